/** jamd's own Wi-Fi, as GET /api/hotspot tells a device that is on it (docs/protocol.md). */
export type Hotspot = { up: false } | { up: true; ssid: string; password: string; typeUrl: string };

/** Asks the box about its own Wi-Fi; anything unexpected (an old jamd, no network) counts as down. */
export async function fetchHotspot(signal?: AbortSignal): Promise<Hotspot> {
  try {
    const r = await fetch('/api/hotspot', { signal, cache: 'no-store' });
    if (!r.ok) return { up: false };
    const j: unknown = await r.json();
    if (typeof j === 'object' && j !== null && (j as { up?: unknown }).up === true) {
      const { ssid, password, typeUrl } = j as Record<string, unknown>;
      if (typeof ssid === 'string' && typeof password === 'string' && typeof typeUrl === 'string') {
        return { up: true, ssid, password, typeUrl };
      }
    }
  } catch {
    /* down, or no answer */
  }
  return { up: false };
}
