"""Unit tests for the training code: /usr/bin/python3 -m unittest discover -s training"""
import unittest

import torch

import casing
import layout as L
import model as M
import tokenizer


def toy_words(n=300):
    letters = "abcdefghij"
    words = ["<bos>", "<unk>"] + [letters[i % 10] + letters[(i // 10) % 10] + str(i) for i in range(n - 2)]
    return words


class ClusteredSoftmaxTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.words = toy_words()
        self.layout = L.keyboard_layout(self.words, cutoffs=(40, 120), d=16, min_cluster=3)
        self.m = M.ClusteredAdaptiveSoftmax(16, self.layout)

    def test_layout_clusters_are_contiguous_sorted_and_cover_the_tails(self):
        spans = [(c.start, c.end) for c in self.layout.clusters]
        self.assertEqual(spans[0][0], 40)
        self.assertEqual(spans[-1][1], len(self.words))
        for (s0, e0), (s1, _) in zip(spans, spans[1:]):
            self.assertEqual(e0, s1)
        for c in self.layout.clusters:
            ws = [self.words[self.layout.order[i]] for i in range(c.start, c.end)]
            self.assertEqual(ws, sorted(ws))
            band = self.layout.bands[c.band]
            self.assertTrue(band.start <= c.start < c.end <= band.end)

    def test_log_prob_matches_brute_force_factorization_and_normalizes(self):
        h = torch.randn(5, 16)
        lp = self.m.log_prob(h)
        self.assertTrue(torch.allclose(lp.exp().sum(1), torch.ones(5), atol=1e-5))
        head = torch.log_softmax(h @ self.m.head.weight.t(), -1)
        for w in [0, 39, 40, 77, 150, len(self.words) - 1]:
            if w < 40:
                want = head[:, w]
            else:
                ci = int(self.m.cluster_of[w])
                c = self.layout.clusters[ci]
                band = self.layout.bands[c.band]
                z = h @ self.m.proj[c.band].weight.t()
                logits = z @ self.m.emb[c.band].t()  # whole band, then restrict
                within = logits[:, c.start - band.start:c.end - band.start]
                want = head[:, 40 + ci] + torch.log_softmax(within, -1)[:, w - c.start]
            self.assertTrue(torch.allclose(lp[:, w], want, atol=1e-5), w)

    def test_nll_equals_gathered_log_prob(self):
        h = torch.randn(64, 16)
        t = torch.randint(0, len(self.words), (64,))
        want = -self.m.log_prob(h).gather(1, t[:, None]).sum()
        self.assertTrue(torch.allclose(self.m.nll(h, t), want, atol=1e-4))


class PaperSoftmaxTest(unittest.TestCase):
    def test_paper_layout_wraps_torch_module(self):
        torch.manual_seed(0)
        words = toy_words()
        lay = L.paper_layout(words, cutoffs=(40, 120), d=16)
        m = M.PaperAdaptiveSoftmax(16, lay)
        h, t = torch.randn(32, 16), torch.randint(0, len(words), (32,))
        self.assertTrue(torch.allclose(m.nll(h, t), -m.log_prob(h).gather(1, t[:, None]).sum(), atol=1e-4))


class LanguageModelTest(unittest.TestCase):
    def test_tied_adaptive_input_uses_output_rows(self):
        torch.manual_seed(0)
        words = toy_words()
        lay = L.keyboard_layout(words, cutoffs=(40, 120), d=16, min_cluster=3)
        lm = M.LanguageModel("keyboard", lay, d=16, dropout=0.0)
        tok = torch.tensor([[0, 5, 50, 200]])
        e = lm.input(tok)[0]
        self.assertTrue(torch.allclose(e[1], lm.output.head.weight[5]))
        b = lay.bands[1]
        self.assertTrue(torch.allclose(e[3], lm.input.up[1](lm.output.emb[1][200 - b.start])))


class TokenizerTest(unittest.TestCase):
    def test_normalization_and_pattern(self):
        self.assertEqual(tokenizer.tokenize("Don\u2019t  CAF\u00c9-au-lait, 1984!"),
                         ["don't", "cafe", "-", "au", "-", "lait", ",", "1984", "!"])
        self.assertEqual(tokenizer.tokenize("dogs' 'em"), ["dogs", "'", "'", "em"])


class CasingTest(unittest.TestCase):
    def test_surface_tokens_lowercase_to_the_models_tokens(self):
        text = "Don\u2019t  CAF\u00c9-au-lait, I'M 1984 U.S.A. \u0131stanbul \u212aelvin!"
        self.assertEqual([t.lower() for t in casing.surface_tokens(text)], tokenizer.tokenize(text))
        self.assertEqual(casing.surface_tokens("Don\u2019t CAF\u00c9"), ["Don't", "CAFE"])

    def test_sentence_starts_are_not_counted(self):
        forms = casing.count_forms([
            'The cat saw Bob. He ran; "Bob," said I, (Then) nothing... Who? Me!',
            "Bob said in 1984 The end",  # a new document starts a sentence; a number is a word
            '"Hi" \u2014 \'Ann\' - Ann',  # Hi: quotes skipped back to the document start
        ])
        self.assertEqual(forms, {
            "cat": {"cat": 1}, "saw": {"saw": 1}, "bob": {"Bob": 2}, "ran": {"ran": 1}, "said": {"said": 2},
            "i": {"I": 1}, "then": {"Then": 1}, "nothing": {"nothing": 1}, "in": {"in": 1}, "1984": {"1984": 1},
            "the": {"The": 1}, "end": {"end": 1}, "ann": {"Ann": 2},
        })

    def test_table_document_votes_majority_vocabulary(self):
        votes = casing.document_votes([
            "x Monday x monday x Monday",  # one vote: Monday
            "x Monday x Government x Government x Government x Government",
            "x government x May x may x may",  # may: lower case wins
            "x government x Tie x tie",  # a tie within a document: the form seen first
            "x Tie x Nasa x NASA x Once x U x U",  # once: one document; u: a single letter
            "x NASA x NASA x Nasa x U x I x Zorvath x Zorvath",  # zorvath: outside the vocabulary
            "x I x Zorvath",
        ])
        self.assertEqual(votes["government"], {"Government": 1, "government": 2}, "documents vote, not tokens")
        words = {"x", "monday", "government", "may", "tie", "once", "nasa", "u", "i", "zorvath"} - {"zorvath"}
        self.assertEqual(casing.casing_table(votes, words), {"i": "I", "monday": "Monday", "tie": "Tie"})
        # nasa: Nasa and NASA one vote each, under two thirds; with a lower majority the first seen wins.
        self.assertEqual(casing.casing_table(votes, words, majority=0.5)["nasa"], "Nasa")


if __name__ == "__main__":
    unittest.main()
