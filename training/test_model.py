"""Unit tests for the training code: /usr/bin/python3 -m unittest discover -s training"""
import contextlib
import io
import json
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

import casing
import export
import layout as L
import model as M
import quantize
import tokenizer
import train as T
import weights as W


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


class Int8ExportTest(unittest.TestCase):
    """export.py --int8 / training/quantize.py on a toy model (2 layers, both bands): the graph, its
    weights, and the numpy reference that writes golden int8LogProbs (onnxruntime's side: bench/golden.ts)."""

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        words = toy_words()
        cls.lay = L.keyboard_layout(words, cutoffs=(40, 120), d=16, min_cluster=3)
        cls.lm = M.LanguageModel("keyboard", cls.lay, d=16, layers=2, dropout=0.0).eval()
        with torch.no_grad():  # larger weights than the initialization, so quantization error is visible
            for p in cls.lm.lstm.parameters():
                p.mul_(4)
        cls.fp32, cls.band_outs = export.encoder_head_graph(cls.lm, cls.lay)
        cls.int8, cls.names = quantize.quantize_encoder(cls.fp32, bits=8)
        cls.int7, _ = quantize.quantize_encoder(cls.fp32, bits=7)
        cls.dir = tempfile.TemporaryDirectory()
        cls.spec = {"layers": 2, "hidden": 16, "shortlist": cls.lay.shortlist,
                    "bands": [vars(b) for b in cls.lay.bands],
                    "clusters": [{**vars(c), "file": f"tail_{i:02d}.onnx"} for i, c in enumerate(cls.lay.clusters)]}
        for i in range(len(cls.lay.clusters)):
            onnx.save(export.tail_graph(cls.lm, cls.lay, i), os.path.join(cls.dir.name, f"tail_{i:02d}.onnx"))
        onnx.save(cls.fp32, os.path.join(cls.dir.name, "fp32.onnx"))
        onnx.save(cls.int8, os.path.join(cls.dir.name, "int8.onnx"))
        g = torch.Generator().manual_seed(1)
        cls.cases = []
        for n in (1, 2, 7, 20):
            ctx = [0] + torch.randint(2, len(words), (n - 1,), generator=g).tolist()
            h, _ = cls.lm.hidden(torch.tensor([ctx]))
            lp = cls.lm.output.log_prob(h[0, -1:])[0]
            pick = list(range(5)) + [c.start for c in cls.lay.clusters] + [c.end - 1 for c in cls.lay.clusters]
            cls.cases.append({"context": ctx, "words": pick, "logProbs": [float(lp[w]) for w in pick]})

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_graph_passes_the_checker_with_the_same_inputs_and_outputs(self):
        onnx.checker.check_model(self.int8, full_check=True)
        self.assertEqual(quantize.check_quantized(self.int8, bits=8), 2)
        self.assertEqual(self.names, ["W0", "R0", "W1", "R1"])
        io = lambda m: [(v.name, str(v.type)) for v in list(m.graph.input) + list(m.graph.output)]
        self.assertEqual(io(self.int8), io(self.fp32))
        names = {i.name for i in self.int8.graph.initializer}
        self.assertFalse(names & set(self.names), "float32 LSTM weights are left in the graph")
        self.assertIn("com.microsoft", {o.domain for o in self.int8.opset_import})
        with self.assertRaises(ValueError):
            quantize.quantize_encoder(self.int8)  # no float LSTM left to quantize

    def test_int8_weights_round_trip_in_onnx_layout_within_half_a_step(self):
        deq = quantize.dequantized_lstm_weights(self.int8)
        fp = {i.name: onnx.numpy_helper.to_array(i) for i in self.fp32.graph.initializer}
        q = {i.name: onnx.numpy_helper.to_array(i) for i in self.int8.graph.initializer}
        for name in self.names:
            w, scale = fp[name], q[f"{name}_scale"]
            self.assertEqual(deq[name].shape, w.shape)
            err = np.abs(deq[name] - w).max(axis=2)  # per output channel (gate row)
            self.assertTrue((err <= scale / 2 + 1e-7).all(), name)
            self.assertEqual(np.abs(q[f"{name}_int8"]).max(axis=1).min(), 127)  # each row spans the range
        q7 = {i.name: onnx.numpy_helper.to_array(i) for i in self.int7.graph.initializer}
        self.assertEqual(np.abs(q7["R0_int8"]).max(), 63)  # 7 bits: no int16 saturation in VPMADDUBSW pairs
        self.assertEqual(quantize.check_quantized(self.int7, bits=7), 2)
        with self.assertRaises(ValueError):
            quantize.check_quantized(self.int8, bits=7)

    def test_dynamic_int8_matmul_is_exact_on_grid_values(self):
        rng = np.random.default_rng(0)
        codes = rng.integers(-127, 128, (8, 5)).astype(np.int8)
        scale = np.full(5, 0.5, np.float32)
        q = rng.integers(0, 256, (3, 8))
        q[0, :2] = 0, 255  # the range [-1, 127/128]: step 1/128, zero point 128, so every value is on the grid
        grid = ((q - 128) / 128).astype(np.float32)
        want = grid.astype(np.float64) @ (codes * 0.5)
        self.assertTrue(np.allclose(quantize.dynamic_int8_matmul(grid, codes, scale), want, atol=1e-5))
        codes, scale = quantize.quantize_rows(np.array([[0.5, -1.0], [0.0, 0.0]], np.float32))
        self.assertEqual(codes.tolist(), [[64, -127], [0, 0]])
        self.assertEqual(scale.tolist(), [np.float32(1 / 127), 1.0])

    def test_reference_matches_pytorch_in_float32_and_stays_within_tolerance_in_int8(self):
        ref32 = quantize.reference_log_probs(self.dir.name, self.spec, self.cases, "fp32.onnx")
        ref8 = quantize.reference_log_probs(self.dir.name, self.spec, self.cases, "int8.onnx")
        diff = lambda ref: max(abs(a - b) for c, lp in zip(self.cases, ref) for a, b in zip(c["logProbs"], lp))
        self.assertLess(diff(ref32), 1e-4)
        self.assertLess(diff(ref8), quantize.GOLDEN_TOLERANCE[8])
        self.assertGreater(diff(ref8), 1e-4, "the int8 reference must not be the float one")
        golden = {"cases": [dict(c) for c in self.cases]}
        worst = quantize.add_int8_golden(self.dir.name, self.spec, golden, "int8.onnx")
        self.assertEqual([c["int8LogProbs"] for c in golden["cases"]], ref8)
        self.assertAlmostEqual(worst, diff(ref8))


AWD = dict(wdrop=0.5, dropouti=0.3, dropouth=0.3, dropouto=0.3, dropoute=0.2)


class AwdLstmTest(unittest.TestCase):
    """The AWD-LSTM options: random in training only; in eval mode (and in the
    exported graph) the model is a plain nn.LSTM with the same state dict."""

    def setUp(self):
        torch.manual_seed(0)
        self.words = toy_words()
        self.lay = L.keyboard_layout(self.words, cutoffs=(40, 120), d=16, min_cluster=3)
        self.awd = M.LanguageModel("keyboard", self.lay, d=16, layers=2, dropout=0.0, **AWD)
        self.plain = M.LanguageModel("keyboard", self.lay, d=16, layers=2, dropout=0.0)
        self.tok = torch.randint(0, len(self.words), (3, 9))
        self.state = (torch.randn(2, 3, 16), torch.randn(2, 3, 16))

    def test_eval_mode_is_the_plain_lstm_with_the_same_state_dict(self):
        self.assertEqual(list(self.awd.state_dict()), list(self.plain.state_dict()))
        self.plain.load_state_dict(self.awd.state_dict())  # strict: same keys and shapes
        self.awd.eval(), self.plain.eval()
        h1, (hn1, cn1) = self.awd.hidden(self.tok, self.state)
        h2, (hn2, cn2) = self.plain.hidden(self.tok, self.state)
        self.assertTrue(torch.equal(h1, h2) and torch.equal(hn1, hn2) and torch.equal(cn1, cn2))
        self.assertTrue(torch.equal(self.awd.hidden(self.tok)[0], self.plain.hidden(self.tok)[0]))
        enc, _ = export.encoder_head_graph(self.awd, self.lay)
        onnx.checker.check_model(enc, full_check=True)
        w_awd = export.lstm_onnx_weights(self.awd.lstm, 1)
        w_plain = export.lstm_onnx_weights(self.plain.lstm, 1)
        self.assertTrue(all(np.array_equal(a, b) for a, b in zip(w_awd, w_plain)))

    def test_layer_by_layer_training_path_equals_the_plain_lstm_at_zero_rates(self):
        zero = M.LanguageModel("keyboard", self.lay, d=16, layers=2, dropout=0.0)
        zero.load_state_dict(self.awd.state_dict())
        zero.awd = True  # the functional, layer-by-layer path with every rate 0
        zero.train()
        self.plain.load_state_dict(self.awd.state_dict())
        self.plain.eval()
        h1, (hn1, cn1) = zero.hidden(self.tok, self.state)
        h2, (hn2, cn2) = self.plain.hidden(self.tok, self.state)
        self.assertTrue(torch.allclose(h1, h2, atol=1e-6))
        self.assertTrue(torch.allclose(hn1, hn2, atol=1e-6) and torch.allclose(cn1, cn2, atol=1e-6))

    def test_training_is_random_and_gradients_reach_the_raw_weights(self):
        self.awd.train()
        before = {k: v.clone() for k, v in self.awd.state_dict().items()}
        h1, _ = self.awd.hidden(self.tok)
        h2, _ = self.awd.hidden(self.tok)
        self.assertFalse(torch.allclose(h1, h2))
        for k, v in self.awd.state_dict().items():
            self.assertTrue(torch.equal(v, before[k]), f"{k} changed by a forward pass")
        nll, n, _, reg = self.awd.loss(self.tok, self.tok, alpha=2.0, beta=1.0)
        (nll / n + reg).backward()
        for k in range(2):
            g = getattr(self.awd.lstm, f"weight_hh_l{k}").grad
            self.assertIsNotNone(g)
            self.assertGreater(float(g.abs().sum()), 0)
            self.assertGreater(float((g == 0).float().mean()), 0.3, "DropConnect: dropped weights get no gradient")
        self.awd.eval()
        self.assertTrue(torch.equal(self.awd.hidden(self.tok)[0], self.awd.hidden(self.tok)[0]))

    def test_locked_dropout_is_one_mask_over_time_and_embedding_dropout_drops_words(self):
        torch.manual_seed(1)
        out = M.locked_dropout(torch.ones(4, 7, 32), 0.5)
        self.assertTrue(torch.equal(out, out[:, :1].expand_as(out)))
        self.assertEqual(set(out.unique().tolist()), {0.0, 2.0})
        lm = M.LanguageModel("keyboard", self.lay, d=16, dropout=0.0, dropoute=0.5).train()
        tok = torch.tensor([[5, 50, 5, 200, 50, 5, 200, 7]])
        full = lm.input(tok)
        dropped = lm._embed(tok)
        for pos in range(tok.size(1)):
            ratio = dropped[0, pos] / full[0, pos]
            self.assertTrue(torch.allclose(ratio, ratio[0].expand_as(ratio)))
            same = (tok[0] == tok[0, pos]).nonzero().squeeze(1)
            self.assertTrue(torch.allclose(dropped[0, same], dropped[0, pos].expand(len(same), -1)))
        self.assertFalse(lm.awd, "embedding dropout alone keeps the plain path")

    def test_activation_regularization_matches_its_formula(self):
        self.plain.eval()
        nll, n, _, reg = self.plain.loss(self.tok, self.tok, alpha=2.0, beta=1.0)
        out, _ = self.plain.hidden(self.tok)
        want = 2.0 * out.pow(2).mean() + 1.0 * (out[:, 1:] - out[:, :-1]).pow(2).mean()
        self.assertTrue(torch.allclose(reg, want))
        self.assertTrue(torch.allclose(nll, self.plain.nll(self.tok, self.tok)[0]))
        self.assertEqual(float(self.plain.loss(self.tok, self.tok)[3]), 0.0)

    def test_plain_dropout_and_awd_do_not_mix(self):
        with self.assertRaises(ValueError):
            M.LanguageModel("keyboard", self.lay, d=16, dropout=0.2, wdrop=0.3)


class WeightsFileTest(unittest.TestCase):
    def test_float16_weights_round_trip_split_and_replace_parts(self):
        torch.manual_seed(0)
        lay = L.keyboard_layout(toy_words(), cutoffs=(40, 120), d=16, min_cluster=3)
        lm = M.LanguageModel("keyboard", lay, d=16, layers=2, dropout=0.0)
        sd = lm.state_dict()
        with tempfile.TemporaryDirectory() as d:
            names = W.save(d, sd, {"args": {"d": 16}}, max_bytes=4000)
            self.assertGreater(len(names), 1)
            self.assertEqual([os.path.basename(p) for p in W.files(d)], sorted(names))
            state, meta = W.load(d)
            self.assertEqual(meta, {"args": {"d": 16}})
            self.assertEqual(list(state), list(sd))
            for k, v in sd.items():
                self.assertTrue(torch.equal(state[k], v.half().float()), k)
            self.assertEqual(W.save(d, sd, {}), ["weights.pt"])
            self.assertEqual([os.path.basename(p) for p in W.files(d)], ["weights.pt"], "stale parts removed")

    def test_tied_tensors_are_stored_once_and_version_1_files_still_load(self):
        torch.manual_seed(0)
        lay = L.keyboard_layout(toy_words(), cutoffs=(40, 120), d=16, min_cluster=3)
        sd = M.LanguageModel("keyboard", lay, d=16, layers=2, dropout=0.0).state_dict()
        tied = [k for k in sd if k.startswith("input.tied.")]
        self.assertTrue(tied, "the keyboard model ties its adaptive input to the output layer")
        with tempfile.TemporaryDirectory() as d:
            W.save(d, sd, {})
            saved = torch.load(os.path.join(d, "weights.pt"))
            self.assertEqual(saved["aliases"], {k: k.replace("input.tied.", "output.") for k in tied})
            self.assertFalse(set(tied) & set(saved["model"]), "each tied tensor once")
            state, _ = W.load(d)
            self.assertEqual(list(state), list(sd))
            for k in tied:
                self.assertTrue(torch.equal(state[k], sd[k].half().float()), k)
            # A file of the first format: every key stored, no aliases or key order.
            torch.save({"format": "nextword-weights/1", "part": 1, "parts": 1, "meta": {},
                        "model": {k: v.half() for k, v in sd.items()}}, os.path.join(d, "weights.pt"))
            old, _ = W.load(d)
            self.assertEqual(set(old), set(sd))
            self.assertTrue(torch.equal(old["input.tied.head.weight"], state["input.tied.head.weight"]))


class TrainRunTest(unittest.TestCase):
    """train.main end to end on toy data: AWD options, --minutes, --publish,
    resume after an interruption, load_run on the float16 weights alone."""

    def test_train_publish_resume_and_load_the_weights(self):
        words = toy_words()
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            os.makedirs(data)
            with open(os.path.join(data, "vocab.tsv"), "w") as f:
                f.write("".join(f"{w}\t{len(words) - i}\n" for i, w in enumerate(words)))
            for split, n in (("train", 6000), ("valid", 1200), ("test", 1200)):
                ids = np.minimum(rng.zipf(1.3, n) - 1, len(words) - 1).astype(np.int32)
                ids[::50] = 0  # <bos>
                np.save(os.path.join(data, f"{split}.npy"), ids)
            run, pub = os.path.join(tmp, "run"), os.path.join(tmp, "pub")
            argv = ["--layout", "keyboard", "--run", run, "--data", data, "--d", "16", "--layers", "2",
                    "--cutoffs", "40", "120", "--batch", "4", "--bptt", "10", "--threads", "1", "--device", "cpu",
                    "--eval-every", "1000", "--publish", pub, "--wdrop", "0.3", "--dropouti", "0.2",
                    "--dropouth", "0.2", "--dropouto", "0.2", "--dropoute", "0.1", "--alpha", "2", "--beta", "1"]
            with contextlib.redirect_stdout(io.StringIO()):
                T.main(argv + ["--max-tokens", "2000"])
            ck, targs, _, lay, _, lm = T.load_run(run)
            self.assertEqual(ck["step"], 50)
            self.assertEqual(targs.wdrop, 0.3)
            self.assertEqual(targs.dropout, 0.0)
            _, _, _, _, _, lm16 = T.load_run(pub)
            for (k, a), b in zip(lm.state_dict().items(), lm16.state_dict().values()):
                self.assertTrue(torch.allclose(a, b, atol=1e-3, rtol=1e-3), k)
            state, meta = W.load(pub)
            self.assertEqual(meta["result"]["tokens"], 2000)
            with open(os.path.join(pub, "result.json")) as f:
                self.assertEqual(json.load(f)["tokens"], 2000)
            with open(os.path.join(pub, "log.jsonl")) as f:
                lines = [json.loads(line) for line in f]
            self.assertEqual([e["tokens"] for e in lines if "valid_ppl" in e], [1000, 2000])
            self.assertIn("result", lines[-1])
            # --minutes: the budget is fixed after the calibration steps and kept on resume.
            run2 = os.path.join(tmp, "run2")
            argv2 = [a if a != run else run2 for a in argv if a not in ("--publish", pub)]
            with contextlib.redirect_stdout(io.StringIO()) as out:
                T.main(argv2 + ["--minutes", "0.2", "--calibrate-seconds", "0", "--warmup", "5", "--max-tokens", "4000"])
            self.assertIn("budget: ", out.getvalue())
            ck2 = torch.load(os.path.join(run2, "checkpoint.pt"))
            self.assertEqual(ck2["total_steps"], 100)  # capped by --max-tokens
            self.assertEqual(ck2["step"], 100)
            self.assertEqual(ck2["decay_from"], 30)  # 10 steps before the measurement, 20 measured
            # --init-from a float16 weights folder (what a GPU machine returns): a warm restart from those weights,
            # shown by the first evaluation, which follows a few steps at a small learning rate.
            run3 = os.path.join(tmp, "run3")
            argv3 = [a if a != run else run3 for a in argv if a not in ("--publish", pub)]
            with contextlib.redirect_stdout(io.StringIO()) as out:
                T.main(argv3 + ["--max-tokens", "120", "--eval-every", "40", "--lr", "1e-5", "--init-from", pub])
            self.assertIn(f"initialised from {pub}", out.getvalue())
            first = torch.load(os.path.join(run3, "checkpoint.pt"))["evals"][0]["valid_ppl"]
            self.assertAlmostEqual(first, meta["result"]["valid_ppl"], delta=0.01 * meta["result"]["valid_ppl"])


if __name__ == "__main__":
    unittest.main()
