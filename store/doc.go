// Package store keeps jamd's sessions in a bbolt file, behind the appliance.Store interface.
//
// Each session is one JSON value under its room code in the "sessions" bucket. Writes are
// group-committed by their callers, so changes in different rooms made at the same moment share
// one fsync, and each public method returns only once its change is on disk. Safe for concurrent
// use.
package store
