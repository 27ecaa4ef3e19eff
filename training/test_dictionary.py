"""Unit tests for dictionary.py (no package needed): (cd training && /usr/bin/python3 -m unittest -v test_dictionary)"""
import math
import unittest

import dictionary as D


def service_share(count, unseen, tokens):
    """src/softmax/lexicon.ts: log p(w | <unk>) = log((1 - unseenShare) * count / tokens)."""
    return math.log((1 - unseen) * count / tokens)


class WordSetTest(unittest.TestCase):
    def test_one_token_lower_case_words_accents_stripped_capitals_on_request(self):
        raw = ["café", "customer's", "co-op", "e.g.", "John", "NASA", "run", "'tis", "customers'"]
        self.assertEqual(D.word_set(raw), {"cafe", "customer's", "run"})
        self.assertEqual(D.word_set(raw, capitals=True), {"cafe", "customer's", "run", "john", "nasa"})

    def test_survey_row_counts(self):
        r = D.survey_row(["café", "customer's", "co-op", "John", "run"])
        self.assertEqual((r["entries"], r["lower"], r["possessive"], r["accented"], r["capital"], r["not_one_token"]),
                         (5, 3, 1, 1, 1, 1))


class ExtendLexiconTest(unittest.TestCase):
    counts = {"tomw": 1, "zork": 1, "blanking": 1, "quokka": 2, "xyzzy": 3}
    dictionary = {"blanking", "quokka", "configured", "the", "customer's"}
    vocab = {"the", "of"}

    def test_kept_training_words_keep_their_probability_and_dictionary_words_get_the_pseudo_count(self):
        u = D.good_turing_unseen(self.counts)  # 3 / 9
        n = sum(self.counts.values())
        ext = D.extend_lexicon(self.counts, self.dictionary, self.vocab, pseudo=0.25, min_count=2, scale=100)
        self.assertEqual(set(ext.counts), {"blanking", "quokka", "xyzzy", "configured", "customer's"})
        self.assertTrue(all(isinstance(c, int) and c >= 1 for c in ext.counts.values()))
        self.assertEqual(ext.tokens, sum(ext.counts.values()))
        self.assertEqual((ext.added, ext.dropped, ext.dropped_tokens), (2, 2, 2))
        for w in ("blanking", "quokka", "xyzzy"):  # unchanged: (1 - u) count / N
            self.assertAlmostEqual(service_share(ext.counts[w], ext.unseen, ext.tokens),
                                   math.log((1 - u) * self.counts[w] / n))
        self.assertAlmostEqual(service_share(ext.counts["configured"], ext.unseen, ext.tokens),
                               math.log((1 - u) * 0.25 / n))
        total = sum(math.exp(service_share(c, ext.unseen, ext.tokens)) for c in ext.counts.values())
        self.assertAlmostEqual(total + ext.unseen, 1.0)
        # the dropped words' mass went back to the unseen share, the added words' came out of it
        self.assertAlmostEqual(ext.unseen, u + (1 - u) * (2 - 2 * 0.25) / n)

    def test_common_words_get_their_own_pseudo_count_and_the_unseen_share_pays_for_both(self):
        u = D.good_turing_unseen(self.counts)
        n = sum(self.counts.values())
        ext = D.extend_lexicon(self.counts, self.dictionary, self.vocab, pseudo=0.1, scale=100,
                               common={"configured"}, common_pseudo=0.3)
        self.assertEqual((ext.counts["configured"], ext.counts["customer's"]), (30, 10))
        self.assertAlmostEqual(ext.unseen, u - (1 - u) * (0.3 + 0.1) / n)
        total = sum(math.exp(service_share(c, ext.unseen, ext.tokens)) for c in ext.counts.values())
        self.assertAlmostEqual(total + ext.unseen, 1.0)
        with self.assertRaises(ValueError):
            D.extend_lexicon(self.counts, self.dictionary, self.vocab, pseudo=0.1, scale=100,
                             common={"configured"}, common_pseudo=0.005)

    def test_no_dictionary_is_the_lexicon_scaled(self):
        ext = D.extend_lexicon(self.counts, set(), self.vocab, pseudo=0, min_count=1, scale=100)
        self.assertEqual(ext.counts, {w: 100 * c for w, c in self.counts.items()})
        self.assertAlmostEqual(ext.unseen, D.good_turing_unseen(self.counts))

    def test_refuses_a_pseudo_count_off_the_scale_or_one_that_takes_the_whole_unseen_share(self):
        with self.assertRaises(ValueError):
            D.extend_lexicon(self.counts, self.dictionary, self.vocab, pseudo=0.005, scale=100)
        with self.assertRaises(ValueError):
            D.extend_lexicon(self.counts, self.dictionary, self.vocab, pseudo=5, scale=100)


class SpellingTest(unittest.TestCase):
    def test_each_step_is_a_distribution_and_a_word_is_its_steps(self):
        s = D.Spelling(["tomw", "zork", "blanking", "quokka"])
        symbols = list(s.ALPHABET) + ["#", "$"]
        self.assertEqual(len(symbols), s.symbols)
        for ctx in ["^^", "^b", "bl", "zz", "k'"]:
            self.assertAlmostEqual(sum(s.step(ctx, c) for c in symbols), 1.0)
        want = sum(math.log(s.step(c, x)) for c, x in [("^^", "t"), ("^t", "o"), ("to", "m"), ("om", "$")])
        self.assertAlmostEqual(s.log_q("tom"), want)
        self.assertGreater(s.log_q("blank"), s.log_q("xqzvj"))


class HoldBackTest(unittest.TestCase):
    def test_rare_unknown_words_without_digits_are_held_back_sorted(self):
        vocab = ["<unk>", "the", "tomw", "qn", "zork", "mp3", "gf", "lor", ",", "quokka"]
        counts = {"the": 900, "tomw": 4, "qn": 9, "zork": 10, "mp3": 2, "gf": 3, "lor": 1, ",": 5, "quokka": 2}
        known = [{"the", "quokka"}, {"lor"}]
        # zork: count 10 is not below 10; mp3: a digit; ",": not suggestable; quokka, lor: known
        self.assertEqual(D.hold_back_words(vocab, counts, known, 10), ["gf", "qn", "tomw"])
        self.assertEqual(D.hold_back_words(vocab, counts, known, 4), ["gf"])
        self.assertEqual(D.hold_back_words(vocab, {}, [], 1), ["gf", "lor", "qn", "quokka", "the", "tomw", "zork"])


if __name__ == "__main__":
    unittest.main()
