package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunServes runs jamd in-process the way main does and waits for /healthz.
func TestRunServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	env := map[string]string{"JAMD_ADDR": "127.0.0.1:0", "JAMD_DATA_DIR": t.TempDir(), "JAMD_NO_MDNS": "true"}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), stdoutW, io.Discard)
		stdoutW.Close()
	}()

	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(sc.Text()); m != "" {
				select {
				case url <- m:
				default:
				}
			}
		}
	}()
	var base string
	select {
	case base = <-url:
	case <-time.After(10 * time.Second):
		t.Fatal("jamd printed no URL")
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run returned %d after the context ended, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
}
