/**
 * The words predict may return (docs/DESIGN.md, "Blocked words" and
 * "Held-back words"), as the two prefix indexes the service keeps, built once
 * at start: one for requests that block offensive words (the default), one
 * for those that do not. Each index's mask leaves out the bundle's held-back
 * words (manifest holdBack: rare vocabulary words no dictionary knows) and,
 * for the first, the blocked ones; its ifRecent mask lets a held-back word back
 * in where the context holds it (the recency mixture's recent words, the path
 * that already re-offers recent words), never a blocked one. Pure.
 */
import type { Bundle } from "../bundle/bundle-types.js";
import { PrefixIndex } from "../softmax/prefix-index.js";
import type { SoftmaxLayout } from "../softmax/softmax-layout.js";

export interface SuggestMasks {
  /** Suggestable words not held back (ifRecent: suggestable). */
  index: PrefixIndex;
  /** Those not blocked either (ifRecent: suggestable and not blocked). */
  allowedIndex: PrefixIndex;
  /** Blocked words, normalized: the vocabulary's are out of allowedIndex, the lexicon's and recent ones out of the mix. */
  blocked: ReadonlySet<string>;
  /** suggestable[id] = 1 when vocabulary entry id is a word (held back or not): what the recency mixture counts. */
  suggestable: Uint8Array;
}

/** `wordToken` normalizes a blocklist entry into the token it blocks (null: not one token, so never suggested whole). */
export function buildMasks(layout: SoftmaxLayout, bundle: Bundle, blocklist: readonly string[], wordToken: (entry: string) => string | null): SuggestMasks {
  const { vocab, holdBack } = bundle;
  const suggestable = bundle.tokenizer.suggestableMask();
  const blocked = new Set<string>();
  for (const entry of blocklist) {
    const token = wordToken(entry);
    if (token !== null) blocked.add(token);
  }
  const notBlocked = suggestable.map((ok, id) => (ok && !blocked.has(vocab[id]!) ? 1 : 0));
  const shown = (mask: Uint8Array) => (holdBack === null ? mask : mask.map((ok, id) => (ok && !holdBack.has(vocab[id]!) ? 1 : 0)));
  return {
    index: PrefixIndex.build(layout, vocab, shown(suggestable), { ifRecent: suggestable }),
    allowedIndex: PrefixIndex.build(layout, vocab, shown(notBlocked), { ifRecent: notBlocked }),
    blocked,
    suggestable,
  };
}
