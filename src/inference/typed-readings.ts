/**
 * A predict row's readings of the typed letters (docs/DESIGN.md, "Forgiving
 * input"): the typing model's first tier now, each dearer tier when
 * RowTopK's bound asks for it (MoreReadings). Pure: the index, the typing
 * model and the mix are injected.
 */
import type { MoreReadings, Reading } from "../softmax/lazy-top-k.js";
import type { RowMix } from "../softmax/open-vocab.js";
import { letterBits, type PrefixIndex } from "../softmax/prefix-index.js";
import { TIER_FLOORS, type Spelling, type TypingModel } from "../typing/typing-model.js";

export interface RowReadings {
  readings: readonly Reading[];
  mix: RowMix;
  more: MoreReadings | null;
}

export interface ReadingsDeps {
  /** The row's index (its mask: suggestable, and not blocked when blocking is on). */
  index: PrefixIndex;
  /** The row's mix over a list of readings (OpenVocab.readingsMix with the context's recent words, k, blocked words, lexiconFloor). */
  mixOf(spellings: readonly Spelling[], lexiconFloor: number): RowMix;
  /** The largest recent share q of the context (0: none). */
  recentQMax: number;
  /** The head id of <unk> when a lexicon may add words outside the vocabulary (-1: none). */
  unkId: number;
}

/** The readings of `typed` (normalized) through tier `upTo`, with the later tiers held back. */
export function typedReadings(
  typing: TypingModel,
  typed: string,
  deps: ReadingsDeps,
  upTo = 0,
  before: readonly Spelling[] = [],
  lexiconFloor = -Infinity,
): RowReadings {
  const spellings = before.concat(typing.tier(typed, upTo));
  const next = upTo + 1;
  const more: MoreReadings | null =
    next < typing.tiers(typed)
      ? {
          channel: -TIER_FLOORS[next]! + 1e-9,
          recentQMax: deps.recentQMax,
          firstLetters: letterBits(typing.firstLetters(typed)),
          unkId: deps.unkId,
          expand: (floor) => typedReadings(typing, typed, deps, next, spellings, floor),
        }
      : null;
  return { readings: spellings.map((s) => readingOf(deps.index, s)), mix: deps.mixOf(spellings, lexiconFloor), more };
}

/** The literal reading alone (`correct` off). */
export function literalReading(typed: string, deps: ReadingsDeps): RowReadings {
  const literal: Spelling = { prefix: typed, channel: 0, withWord: false };
  return { readings: [readingOf(deps.index, literal)], mix: deps.mixOf([literal], -Infinity), more: null };
}

function readingOf(index: PrefixIndex, s: Spelling): Reading {
  return { ranges: s.withWord ? index.rangesWithWord(s.prefix) : index.ranges(s.prefix), channel: s.channel };
}
