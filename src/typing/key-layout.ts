/**
 * Key geometry of touch keyboards, as data: which keys a finger aiming at one
 * key is likely to hit instead. Pure, no I/O.
 *
 * A layout is its rows of letter keys and each row's offset from the left
 * edge, in key widths (a phone's QWERTY: the middle row starts half a key in,
 * the bottom row a key and a half). Two keys are neighbours when their centres
 * are at most NEIGHBOUR_DISTANCE key widths apart (rows one key height apart):
 * the keys left and right on the same row and the two or three touching keys
 * of the rows above and below. AZERTY or QWERTZ is another entry of LAYOUTS.
 */

export interface KeyLayout {
  name: string;
  rows: readonly { keys: string; offset: number }[];
}

export const LAYOUTS: Readonly<Record<string, KeyLayout>> = {
  qwerty: {
    name: "qwerty",
    rows: [
      { keys: "qwertyuiop", offset: 0 },
      { keys: "asdfghjkl", offset: 0.5 },
      { keys: "zxcvbnm", offset: 1 },
    ],
  },
};

/** Centre distance (key widths) up to which two keys count as neighbours: the touching keys, not the next but one. */
const NEIGHBOUR_DISTANCE = 1.2;

/** neighbours.get(key): the keys next to it. Symmetric; a key is not its own neighbour. */
export function keyNeighbours(layout: KeyLayout): ReadonlyMap<string, ReadonlySet<string>> {
  const keys = layout.rows.flatMap((row, r) => Array.from(row.keys, (key, i) => ({ key, x: row.offset + i, y: r })));
  const out = new Map<string, Set<string>>();
  for (const a of keys) {
    const near = new Set<string>();
    for (const b of keys) if (a !== b && Math.hypot(a.x - b.x, a.y - b.y) <= NEIGHBOUR_DISTANCE) near.add(b.key);
    out.set(a.key, near);
  }
  return out;
}
