"""Tests for neural_cache.py (the continuous cache, offline): (cd training && /usr/bin/python3 -m unittest -v test_neural_cache)"""
import importlib.util
import os
import unittest

import numpy as np
import torch

import layout as L
import model as M
import neural_cache as N
from test_model import toy_words

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)  # the other core trains


def toy_lm(d=16, layers=2):
    torch.manual_seed(0)
    words = toy_words()
    lay = L.keyboard_layout(words, cutoffs=(40, 120), d=d, min_cluster=3)
    lm = M.LanguageModel("keyboard", lay, d=d, layers=layers, dropout=0.0)
    return lm.eval()


def toy_doc(n, vocab=300, seed=1):
    g = torch.Generator().manual_seed(seed)
    seq = [0] + torch.randint(2, vocab, (n,), generator=g).tolist()
    nxt = torch.tensor([t % 7 for t in seq[1:]])  # few distinct words: many matches
    key_ok = torch.tensor([t % 5 != 0 for t in seq[1:]])  # some targets are not words
    return {"seq": seq, "nxt": nxt, "key_ok": key_ok}


def brute_cache(h, doc, L, theta, t):
    """p_cache(target of t) and whether t has an entry, entry by entry."""
    js = [j for j in range(t) if doc["key_ok"][j] and (L == 0 or t - j <= L)]
    if not js:
        return 0.0, False
    s = torch.tensor([theta * float(h[t] @ h[j]) for j in js]).double()
    w = torch.softmax(s, 0)
    return float(sum(w[i] for i, j in enumerate(js) if doc["nxt"][j] == doc["nxt"][t])), True


class NeuralCacheTest(unittest.TestCase):
    def test_target_log_probs_equal_the_full_distribution(self):
        lm = toy_lm()
        h = torch.randn(50, 16)
        y = torch.randint(0, 300, (50,))
        want = lm.output.log_prob(h).gather(1, y[:, None]).squeeze(1)
        self.assertTrue(torch.allclose(lm.output.target_log_prob(h, y), want, atol=1e-5))

    def test_carried_cache_matches_entry_by_entry(self):
        torch.manual_seed(2)
        doc = toy_doc(90)
        h = torch.randn(90, 8)
        thetas = [0.3, 1.0]
        res = N.carried_cache(h, doc, [5, 40, 0], thetas, block=32)  # blocks smaller than the document
        for L in (5, 40, 0):
            p, has = res[L]
            for t in (0, 1, 3, 17, 45, 89):
                for i, th in enumerate(thetas):
                    want, want_has = brute_cache(h, doc, L, th, t)
                    self.assertEqual(bool(has[t]), want_has)
                    self.assertAlmostEqual(float(p[i, t]), want, places=5)

    def test_window_start_is_the_service_rule(self):
        # bench/peer/weights.py's window() is the service's contextWindow in Python; both must agree
        spec = importlib.util.spec_from_file_location("peer_weights", os.path.join(HERE, "..", "bench", "peer", "weights.py"))
        peer = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(peer)
        ids = [0] + torch.randint(2, 300, (400,), generator=torch.Generator().manual_seed(3)).tolist()
        for n in range(1, len(ids) + 1):
            self.assertEqual(N.window_start(ids, n), n - len(peer.window(ids[:n])))

    def test_served_states_are_zero_state_runs_over_each_window(self):
        lm = toy_lm()
        doc = toy_doc(300)
        seq, n = doc["seq"], len(doc["seq"]) - 1
        with torch.no_grad():
            carried = lm.hidden(torch.tensor([seq[:-1]]))[0][0]
            a, starts, last, outs, q = N.served_states(lm, seq, n)
            self.assertTrue(torch.allclose(q[:64], carried[:64], atol=1e-6))  # <= 64 tokens: the whole context
            for t in (64, 100, 180, 299):
                self.assertEqual(a[t], N.window_start(seq, t + 1))
                direct = lm.hidden(torch.tensor([seq[a[t]:t + 1]]))[0][0, -1]
                self.assertTrue(torch.allclose(q[t], direct, atol=1e-6))
        self.assertGreater(len(starts), n // 32)  # restarts do happen

    def test_window_cache_uses_only_the_runs_own_entries(self):
        lm = toy_lm()
        doc = toy_doc(300)
        seq, n = doc["seq"], len(doc["seq"]) - 1
        with torch.no_grad():
            a, starts, last, outs, q = N.served_states(lm, seq, n)
        p, has = N.window_cache(doc, a, starts, last, outs, [2.0])
        for t in (0, 10, 150, 299):
            run = outs[starts.index(a[t])]
            js = [j for j in range(a[t], t) if doc["key_ok"][j]]
            self.assertEqual(bool(has[t]), bool(js))
            if js:
                w = torch.softmax(torch.stack([2.0 * run[t - a[t]] @ run[j - a[t]] for j in js]), 0)
                want = sum(float(w[i]) for i, j in enumerate(js) if doc["nxt"][j] == doc["nxt"][t])
                self.assertAlmostEqual(float(p[0, t]), want, places=5)

    def test_stored_entries_round_as_fp16_and_int8_rows(self):
        h = torch.randn(20, 16) * 3
        self.assertTrue(torch.equal(N.stored(h, "fp32"), h))
        self.assertTrue(torch.equal(N.stored(h, "fp16"), h.half().float()))
        q = N.stored(h, "int8")
        scale = h.abs().amax(1, keepdim=True) / 127
        self.assertTrue(bool(((q - h).abs() <= scale / 2 + 1e-6).all()))

    def test_mixture_leaves_the_weight_to_the_model_without_entries(self):
        lp = np.log(np.array([0.5, 0.25]))
        ppl = N.mix_ppl(lp, [(0.2, np.array([1.0, 0.9]), np.array([1.0, 0.0]))])
        want = np.exp(-np.mean(np.log([0.8 * 0.5 + 0.2, 0.25])))
        self.assertAlmostEqual(ppl, want, places=10)

    def test_distinct_words_counts_each_window(self):
        doc = toy_doc(60)
        res = N.distinct_words(doc, [7, 0])
        for L in (7, 0):
            for t in range(60):
                js = [j for j in range(t) if doc["key_ok"][j] and (L == 0 or t - j <= L)]
                self.assertEqual(res[L][t], len({int(doc["nxt"][j]) for j in js}))


if __name__ == "__main__":
    unittest.main()
