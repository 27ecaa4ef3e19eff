/**
 * The lazy exact top-k against brute force on random synthetic adaptive
 * softmaxes: random vocabularies and cluster layouts (alphabetical keyboard-like
 * ones and unsorted ones), random head and within-cluster log-probs (some on a
 * lattice so that exact ties happen), random prefixes, k in 1..50
 * (test/helpers/random-softmax.ts).
 */
import t from "tap";

import { RowTopK } from "../src/softmax/lazy-top-k.js";
import { PrefixIndex, positionMask } from "../src/softmax/prefix-index.js";
import { clustersForWords, scoreWords } from "../src/softmax/scoring.js";
import { SoftmaxLayout } from "../src/softmax/softmax-layout.js";
import { rowViews, runTailRounds, scoreState, supplyCached, type TailCall, type TailRow, type TailState } from "../src/softmax/tail-rounds.js";
import { rng } from "../testkit/rng.js";
import {
  bruteForce,
  completes,
  fullLogProbs,
  int,
  isCandidate,
  pick,
  randomModel,
  randomOpenVocab,
  randomQuery,
  randomRow,
  SUGGEST,
  suggestableMask,
  withBlocklist,
} from "./helpers/random-softmax.js";

t.test("prefix ranges hold exactly the words completing the prefix (starting with it, not equal to it), per group and over the whole vocabulary in word order", async (t) => {
  const r = rng(1);
  let checked = 0;
  for (let trial = 0; trial < 60; trial++) {
    const m = randomModel(r);
    for (const prefix of ["", "a", "ab", "b'", "&", "q", pick(r, m.vocab)]) {
      const ranges = m.index.ranges(prefix);
      const groups = [m.index.head, ...m.index.clusters];
      groups.forEach((g, gi) => {
        const lo = gi === 0 ? ranges.headLo : ranges.lo[gi - 1]!;
        const hi = gi === 0 ? ranges.headHi : ranges.hi[gi - 1]!;
        const count = gi === 0 ? ranges.headCount : ranges.count[gi - 1]!;
        const got = Array.from(g.byWord.subarray(lo, hi)).sort((a, b) => a - b);
        const want: number[] = [];
        for (let id = g.start; id < g.end; id++) if (completes(m.vocab[id]!, prefix)) want.push(id);
        if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`group ${gi} prefix "${prefix}": ${got} vs ${want}`);
        if (count !== want.filter((id) => m.index.suggestable[id]).length) t.fail(`group ${gi} prefix "${prefix}": count ${count}`);
        if (gi > 0 && g.alphabetical && want.length > 0 && (want[0] !== g.start + lo || want.at(-1) !== g.start + hi - 1)) {
          t.fail(`alphabetical cluster ${gi - 1}: ids are not [start + lo, start + hi)`);
        }
        checked++;
      });
      // The same run over the whole vocabulary in word order (the device output layer's positions).
      const got = Array.from(m.index.order.subarray(ranges.allLo, ranges.allHi)).sort((a, b) => a - b);
      const want = m.vocab.flatMap((w, id) => (completes(w, prefix) ? [id] : []));
      if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`whole vocabulary, prefix "${prefix}": ${got} vs ${want}`);
      if (ranges.allCount !== want.filter((id) => m.index.suggestable[id]).length) t.fail(`whole vocabulary, prefix "${prefix}": count ${ranges.allCount}`);
    }
    const { order, positionOf } = m.index;
    const byString = m.vocab.map((_, id) => id).sort((a, b) => (m.vocab[a]! < m.vocab[b]! ? -1 : m.vocab[a]! > m.vocab[b]! ? 1 : a - b));
    if (order.join() !== byString.join()) t.fail(`trial ${trial}: order is not the vocabulary in code-unit order`);
    if (!Array.from(order).every((id, p) => positionOf[id] === p)) t.fail(`trial ${trial}: positionOf is not order's inverse`);
    const mask = positionMask(m.index);
    if (!Array.from(order).every((id, p) => mask[p] === (m.index.suggestable[id] ? 0 : -Infinity))) t.fail(`trial ${trial}: positionMask`);
    if (positionMask(m.index) !== mask) t.fail("positionMask is built once per index");
  }
  t.ok(checked > 1000, `${checked} group/prefix pairs checked`);
});

/**
 * A batch as the service forms it: rows on a few states (rows with the same
 * window share one), some clusters already cached in a state, top-k rows and
 * scoring rows mixed. Each state's band hidden row is its index (dim 1), so
 * the evaluator knows which state a packed row is.
 */
t.test("lazy top-k through the tail rounds equals brute-force top-k, for every lookahead", async (t) => {
  const r = rng(2);
  let rows = 0;
  let scored = 0;
  let skippedSome = 0; // rows that evaluated fewer clusters than have candidates
  let prunedByPrefix = 0; // rows where the prefix ruled clusters out
  let evaluatedClusters = 0;
  let candidateClusters = 0;
  let fewerRounds = 0; // rows whose clusters took fewer rounds than clusters thanks to lookahead
  let shared = 0; // tail rows that served more than one batch row
  let fromCache = 0; // clusters supplied from a state's cache
  let blockedRows = 0; // rows whose answer the blocklist changed
  for (let trial = 0; trial < 250; trial++) {
    const { m, blocked } = withBlocklist(r, randomModel(r));
    const dists = Array.from({ length: int(r, 1, 4) }, () => randomRow(r, m));
    const states: TailState[] = dists.map((d, s) => ({ head: d.head, bandHidden: [Float32Array.of(s)], tails: new Map() }));
    const cached = states.map((st, s) => {
      const pre = new Set<number>();
      for (let c = 0; c < m.layout.clusterCount; c++) if (r() < 0.15) pre.add(c);
      for (const c of pre) st.tails.set(c, dists[s]!.within[c]!.slice());
      return pre;
    });
    const queries = Array.from({ length: int(r, 1, 6) }, () => ({ s: int(r, 0, states.length - 1), ...randomQuery(r, m) }));
    const batch: TailRow[] = queries.map((q) => ({ state: states[q.s]!, planner: new RowTopK(m.index, dists[q.s]!.head, q.k, m.index.ranges(q.prefix)) }));
    const scoring = Array.from({ length: int(r, 0, 2) }, () => ({ s: int(r, 0, states.length - 1), ids: Array.from({ length: int(r, 1, 5) }, () => int(r, 0, m.layout.vocabSize - 1)) }));
    for (const q of scoring) batch.push({ state: states[q.s]!, words: q.ids });

    const evaluated = new Set<string>(); // `${state}/${cluster}`
    const evaluate = async (calls: TailCall[]): Promise<Float32Array[][]> =>
      calls.map(({ cluster, rows: packed }) => {
        const size = m.layout.clusterSize(cluster);
        const out = new Float32Array(packed.length * size);
        packed.forEach((s, j) => {
          const key = `${s}/${cluster}`;
          if (evaluated.has(key) || cached[s]!.has(cluster)) t.fail(`trial ${trial}: state ${s} cluster ${cluster} evaluated again`);
          evaluated.add(key);
          const wanted =
            queries.some((q) => q.s === s && [...Array(size).keys()].some((p) => isCandidate(m, q.prefix, m.layout.clusterStart[cluster]! + p))) ||
            scoring.some((q) => q.s === s && q.ids.some((id) => m.layout.clusterOf(id) === cluster));
          if (!wanted) t.fail(`trial ${trial}: state ${s} evaluated cluster ${cluster}, which no row of it can use`);
          out.set(dists[s]!.within[cluster]!, j * size);
        });
        if (packed.length > 1) shared++;
        return rowViews(out, packed.length);
      });
    const lookahead = int(r, 1, 4);
    const prefetchWords = r() < 0.5 ? 0 : int(r, 1, 60);
    const rounds = await runTailRounds(batch, evaluate, { layout: m.layout, bandOf: new Int32Array(m.layout.clusterCount), lookahead, prefetchWords });
    queries.forEach((q, i) => {
      const planner = (batch[i] as { planner: RowTopK }).planner;
      const got = planner.result();
      const want = bruteForce(m, { ...dists[q.s]!, prefix: q.prefix, k: q.k });
      if (blocked && want.ids.join() !== bruteForce({ ...m, index: PrefixIndex.build(m.layout, m.vocab, suggestableMask(m.vocab)) }, { ...dists[q.s]!, prefix: q.prefix, k: q.k }).ids.join()) blockedRows++;
      rows++;
      if (JSON.stringify(Array.from(got.ids)) !== JSON.stringify(want.ids) || JSON.stringify(Array.from(got.logProbs)) !== JSON.stringify(want.logProbs)) {
        t.fail(`trial ${trial} row ${i} (k=${q.k}, prefix "${q.prefix}"): got ${got.ids}, want ${want.ids}`);
      }
      const used = planner.evaluated;
      const candidates = m.index.ranges(q.prefix).count.filter((n) => n > 0).length;
      if (new Set(used).size !== used.length) t.fail(`trial ${trial} row ${i}: a cluster was supplied twice`);
      const called = used.filter((c) => !cached[q.s]!.has(c)).length;
      // A row alone on its state asks for every cluster it gets that was not cached, at most `lookahead` per round (prefetch adds more).
      const alone = prefetchWords === 0 && batch.filter((row) => row.state === states[q.s]).length === 1;
      if (alone && rounds * lookahead < called) t.fail(`trial ${trial}: ${rounds} rounds of ${lookahead} for ${called} evaluated clusters`);
      if (alone && lookahead > 1 && rounds < called) fewerRounds++;
      fromCache += used.length - called;
      evaluatedClusters += used.length;
      candidateClusters += candidates;
      if (used.length < candidates) skippedSome++;
      if (candidates < m.layout.clusterCount) prunedByPrefix++;
    });
    for (const q of scoring) {
      const full = fullLogProbs(m, dists[q.s]!);
      t.same(Array.from(scoreState(m.layout, states[q.s]!, q.ids)), q.ids.map((id) => full[id]), `trial ${trial}: scored log-probs`);
      scored++;
    }
  }
  t.pass(`${rows} top-k rows compared with brute force, ${scored} scoring rows`);
  t.ok(skippedSome > 0, `the bound skipped clusters in ${skippedSome} of ${rows} rows`);
  t.ok(prunedByPrefix > 0, `the prefix ruled clusters out in ${prunedByPrefix} of ${rows} rows`);
  t.ok(fewerRounds > 0, `lookahead saved rounds for ${fewerRounds} rows`);
  t.ok(shared > 0 && fromCache > 0, `${shared} tail calls served several rows of one state; ${fromCache} clusters came from a state's cache`);
  t.ok(blockedRows > 50, `the blocklist changed ${blockedRows} answers (blocked words never returned)`);
  t.ok(evaluatedClusters < candidateClusters, `${evaluatedClusters} of ${candidateClusters} candidate clusters evaluated`);
});

t.test("with a lexicon and the recency mix, lazy top-k equals brute force over the open vocabulary", async (t) => {
  const r = rng(3);
  let rows = 0;
  let extrasWon = 0; // rows whose answer holds a word outside the vocabulary
  let mixChanged = 0; // rows whose answer differs from the LSTM alone
  for (let trial = 0; trial < 400; trial++) {
    const m = randomModel(r);
    const row = randomRow(r, m);
    const { unkId, lexicon, recent, ids, mb, blocked, open, table, mix } = randomOpenVocab(r, m, row);
    const planner = new RowTopK(mb.index, row.head, row.k, mb.index.ranges(row.prefix), mix);
    const state: TailState = { head: row.head, bandHidden: [new Float32Array(1)], tails: new Map() };
    const evaluate = async (calls: TailCall[]) => calls.map((c) => [row.within[c.cluster]!]);
    await runTailRounds([{ state, planner }], evaluate, { layout: m.layout, bandOf: new Int32Array(m.layout.clusterCount), lookahead: 2 });
    const got = planner.result();
    const gotWords = Array.from(got.ids, (id) => (id < m.layout.vocabSize ? m.vocab[id]! : mix.extraWords[id - m.layout.vocabSize]!));

    // Brute force: every candidate's log-prob through OpenVocab.logProb (the /v1/score path), sorted.
    const lp = fullLogProbs(m, row);
    const lpUnk = unkId < m.layout.shortlist ? row.head[unkId]! : -Infinity;
    const byWord = new Map<string, number>();
    m.vocab.forEach((w, id) => {
      if (isCandidate(mb, row.prefix, id)) byWord.set(w, open.logProb(w, lp[id]!, lpUnk, table)!);
    });
    for (const w of [...(lexicon?.words ?? []), ...(recent?.counts.keys() ?? [])]) {
      if (ids.has(w) || !completes(w, row.prefix) || !SUGGEST.test(w) || blocked?.has(w)) continue;
      const x = open.logProb(w, null, lpUnk, table);
      if (x !== null) byWord.set(w, x);
    }
    const want = [...byWord].sort((a, b) => b[1] - a[1]).slice(0, row.k);
    const kth = want.at(-1)?.[1] ?? Infinity;
    const above = (ws: Array<[string, number]>) => ws.filter(([, x]) => x > kth).map(([w]) => w).sort();
    rows++;
    const ok =
      JSON.stringify(Array.from(got.logProbs)) === JSON.stringify(want.map((c) => c[1])) &&
      gotWords.every((w, i) => byWord.get(w) === got.logProbs[i]) &&
      JSON.stringify(above(gotWords.map((w, i) => [w, got.logProbs[i]!]))) === JSON.stringify(above(want));
    if (!ok) t.fail(`trial ${trial} (k=${row.k}, prefix "${row.prefix}"): got ${gotWords} ${got.logProbs}, want ${want.map((c) => c.join(":"))}`);
    if (Array.from(got.ids).some((id) => id >= m.layout.vocabSize)) extrasWon++;
    if (JSON.stringify(Array.from(got.ids)) !== JSON.stringify(bruteForce(m, row).ids)) mixChanged++;
  }
  t.pass(`${rows} rows compared with brute force (log-probs in order; words, ties aside)`);
  t.ok(extrasWon > 20, `words outside the vocabulary in ${extrasWon} answers`);
  t.ok(mixChanged > 50, `the lexicon and the mix changed ${mixChanged} answers`);
});

/** The one cluster a row needs next (lookahead 1), or null when its top-k is final. */
const next = (row: RowTopK): number | null => row.nextClusters(1)[0] ?? null;

t.test("hand-made cases", async (t) => {
  // ids: 0 <bos>, 1 "the", 2 "to" | cluster 0: 3 "bat", 4 "bee" | cluster 1: 5 "cat" | cluster 2: 6 "ant", 7 "axe"
  const vocab = ["<bos>", "the", "to", "bat", "bee", "cat", "ant", "axe"];
  const layout = new SoftmaxLayout(3, [
    { start: 3, end: 5 },
    { start: 5, end: 6 },
    { start: 6, end: 8 },
  ]);
  const index = PrefixIndex.build(layout, vocab, suggestableMask(vocab), { requireAlphabetical: true });
  const f32 = (xs: number[]) => Float32Array.from(xs);
  const within = [f32([-0.25, -2]), f32([0]), f32([-1, -0.5])];
  const drive = (head: number[], k: number, prefix: string) => {
    const row = new RowTopK(index, f32(head), k, index.ranges(prefix));
    for (let c = next(row); c !== null; c = next(row)) row.supply(c, within[c]!);
    return { ids: Array.from(row.result().ids), evaluated: [...row.evaluated] };
  };

  // Head words beat every cluster's bound: no tail is evaluated.
  t.same(drive([-9, -1, -1.5, -3, -4, -5], 2, ""), { ids: [1, 2], evaluated: [] });
  // Clusters in decreasing probability until the bound falls below the k-th best.
  t.same(drive([-9, -1, -5, -0.5, -4, -3], 2, ""), { ids: [3, 1], evaluated: [0] });
  // The prefix "c" leaves only cluster 1, whatever the head says.
  t.same(drive([-9, -1, -5, -0.5, -4, -3], 3, "c"), { ids: [5], evaluated: [1] });
  // No candidate at all: nothing evaluated, empty result.
  t.same(drive([-0.1, -1, -5, -0.5, -4, -3], 3, "q"), { ids: [], evaluated: [] });
  // <bos> is never suggested, however probable.
  t.same(drive([-0.1, -9, -8, -9, -9, -9], 1, ""), { ids: [2], evaluated: [] });
  // Exact ties. Cluster 2 gives "axe" -0.25 - 0.5 = -0.75; cluster 0 gives "bat"
  // -0.5 - 0.25 = -0.75 too and wins on its lower id. Cluster 1's bound is
  // -0.75: its word could only tie, at id 5 > 3, so it is skipped.
  t.same(drive([-9, -9, -9, -0.5, -0.75, -0.25], 1, ""), { ids: [3], evaluated: [2, 0] });
  // Step by step: "ant" (id 6) from cluster 2 is best at -0.75, and cluster 1's
  // bound is -0.75 too; its ids start at 5 < 6, so it may win the tie and must be
  // evaluated (stopping at a bound that is "not above" the k-th best would be wrong).
  const row = new RowTopK(index, f32([-9, -9, -9, -5, -0.75, -0.5]), 1, index.ranges(""));
  t.equal(next(row), 2);
  t.equal(next(row), 2, "the next cluster is stable until supplied");
  row.supply(2, f32([-0.25, -3]));
  t.same(Array.from(row.result().ids), [6]);
  t.equal(next(row), 1, "the tied cluster with lower ids is evaluated");
  row.supply(1, f32([0]));
  t.equal(next(row), null);
  t.same(Array.from(row.result().ids), [5]);
  t.same(Array.from(row.result().logProbs), [-0.75]);
  t.same([...row.evaluated], [2, 1]);

  t.throws(() => new RowTopK(index, f32([-1, -1, -1, -1, -1, -1]), 1, index.ranges("")).supply(0, within[0]!), /planner asked for none/);
  t.throws(() => new RowTopK(index, f32([-1]), 1, index.ranges("")), /head row has 1/);
  t.throws(() => new RowTopK(index, f32([-1, -1, -1, -1, -1, -1]), 0, index.ranges("")), /k must be/);
});

t.test("unsorted clusters: a permutation, or an error when alphabetical order is required", async (t) => {
  const vocab = ["the", "dog", "cat", "bee"];
  const layout = new SoftmaxLayout(1, [{ start: 1, end: 4 }]);
  const mask = suggestableMask(vocab);
  t.throws(() => PrefixIndex.build(layout, vocab, mask, { requireAlphabetical: true }), /cluster 0 \[1, 4\) is not in word order: id 1 "dog" sorts after id 2 "cat"/);
  const index = PrefixIndex.build(layout, vocab, mask);
  t.same(index.nonAlphabeticalClusters, [0]);
  const ranges = index.ranges("c");
  t.same(Array.from(index.clusters[0]!.byWord.subarray(ranges.lo[0]!, ranges.hi[0]!)), [2]);
});

t.test("tail rounds: one call per cluster and round over distinct states; cached clusters are supplied without a call", async (t) => {
  const vocab = ["<bos>", "a", "b", "c", "da"];
  const layout = new SoftmaxLayout(1, [
    { start: 1, end: 3 },
    { start: 3, end: 5 },
  ]);
  const index = PrefixIndex.build(layout, vocab, suggestableMask(vocab));
  const f32 = (xs: number[]) => Float32Array.from(xs);
  const within = [f32([-0.5, -1]), f32([-0.25, -2])];
  const run = async (lookahead: number, cachedInS1: number[] = []) => {
    // Band hidden rows 10 and 20 stand for states S0 and S1.
    const s0: TailState = { head: f32([-9, -0.1, -3]), bandHidden: [f32([10])], tails: new Map() };
    const s1: TailState = { head: f32([-9, -3, -0.1]), bandHidden: [f32([20])], tails: new Map(cachedInS1.map((c) => [c, within[c]!])) };
    const all = index.ranges("");
    const rows: TailRow[] = [
      { state: s0, planner: new RowTopK(index, s0.head, 4, all) }, // wants 0 then 1
      { state: s1, planner: new RowTopK(index, s1.head, 4, all) }, // wants 1 then 0
      { state: s0, planner: new RowTopK(index, s0.head, 4, index.ranges("d")) }, // wants 1 only
      { state: s1, words: [0, 3] }, // scores "<bos>" (head) and "c" (cluster 1)
    ];
    const calls: Array<Array<[number, number[]]>> = [];
    const rounds = await runTailRounds(
      rows,
      async (cs) => {
        calls.push(cs.map((c) => [c.cluster, Array.from(c.rows)]));
        return cs.map((c) => {
          const out = new Float32Array(c.rows.length * layout.clusterSize(c.cluster));
          for (let j = 0; j < c.rows.length; j++) out.set(within[c.cluster]!, j * layout.clusterSize(c.cluster));
          return rowViews(out, c.rows.length);
        });
      },
      { layout, bandOf: [0, 0], lookahead },
    );
    const answers = rows.map((row) => ("planner" in row ? Array.from(row.planner.result().ids) : Array.from(scoreState(layout, row.state, row.words))));
    return { rounds, calls, answers, tails: [[...s0.tails.keys()], [...s1.tails.keys()]] };
  };
  const one = await run(1);
  t.same(one.calls, [[[0, [10]], [1, [20, 10]]], [[0, [20]]]], "lookahead 1: round 1 one call per cluster (S0 once for two rows), round 2 what is left");
  t.equal(one.rounds, 2);
  t.same(one.answers.slice(0, 3), [[1, 2, 3, 4], [3, 4, 1, 2], [4]]);
  t.same(one.answers[3], [-9, Math.fround(-0.1) - 0.25]);
  t.same(one.tails, [[0, 1], [1, 0]], "evaluated tails land in their states");
  const two = await run(2);
  t.same(two.calls, [[[0, [10, 20]], [1, [10, 20]]]], "lookahead 2: every cluster in one round");
  t.same(two.answers, one.answers, "the same answers for every lookahead");
  const cached = await run(1, [0, 1]);
  t.same(cached.calls, [[[0, [10]], [1, [10]]]], "S1 has both clusters cached: only S0's are called");
  t.same(cached.answers, one.answers);
});

t.test("tail rounds: prefetch brings a narrow prefix's other clusters into the call it needs anyway, and supplies none of them", async (t) => {
  const vocab = ["<bos>", "a", "b", "c", "da"];
  const layout = new SoftmaxLayout(1, [
    { start: 1, end: 3 },
    { start: 3, end: 5 },
  ]);
  const index = PrefixIndex.build(layout, vocab, suggestableMask(vocab));
  const within = [Float32Array.of(-0.5, -1), Float32Array.of(-0.25, -2)];
  const run = async (prefetchWords: number) => {
    // Cluster 0's bound (-0.1) beats cluster 1's (-3): the top-1 needs cluster 0 only.
    const state: TailState = { head: Float32Array.of(-9, -0.1, -3), bandHidden: [Float32Array.of(10)], tails: new Map() };
    const planner = new RowTopK(index, state.head, 1, index.ranges(""));
    const calls: number[][] = [];
    const evaluate = async (cs: TailCall[]) => {
      calls.push(cs.map((c) => c.cluster));
      return cs.map((c) => [within[c.cluster]!.slice()]);
    };
    const rounds = await runTailRounds([{ state, planner }], evaluate, { layout, bandOf: [0, 0], lookahead: 1, prefetchWords });
    return { rounds, calls, answer: Array.from(planner.result().ids), evaluated: planner.evaluated, tails: [...state.tails.keys()].sort(), state };
  };
  const on = await run(4);
  t.same(on.calls, [[0, 1]], "both clusters of the prefix (4 words) in the one call the row needed");
  t.same(on.evaluated, [0], "the planner was supplied only what it asked for");
  t.same(on.answer, [1]);
  t.same(on.tails, [0, 1], "the other cluster waits in the state");
  const later = new RowTopK(index, on.state.head, 4, index.ranges(""));
  t.same(supplyCached(later, on.state, 1), [], "a later row on the state needs no call");
  const off = await run(3);
  t.same(off.calls, [[0]], "over the word budget: only what the row needs");
  t.same(off.answer, on.answer);
  t.same((await run(0)).calls, [[0]], "0: off");
});

t.test("scoring: log p of given ids and the clusters they need", async (t) => {
  const r = rng(3);
  for (let trial = 0; trial < 40; trial++) {
    const m = randomModel(r);
    const row = randomRow(r, m);
    const ids = Array.from({ length: int(r, 0, 12) }, () => int(r, 0, m.layout.vocabSize - 1));
    const clusters = clustersForWords(m.layout, ids);
    const want = new Set(ids.map((id) => m.layout.clusterOf(id)).filter((c) => c >= 0));
    t.same(clusters, [...want].sort((a, b) => a - b), `trial ${trial}: clusters needed`);
    const asked: number[] = [];
    const got = scoreWords(m.layout, row.head, ids, (c) => {
      asked.push(c);
      return row.within[c]!;
    });
    const full = fullLogProbs(m, row);
    t.same(Array.from(got), ids.map((id) => full[id]), `trial ${trial}: log-probs`);
    t.ok(asked.every((c) => want.has(c)), `trial ${trial}: only needed clusters were read`);
  }
  const layout = new SoftmaxLayout(2, [
    { start: 2, end: 4 },
    { start: 4, end: 5 },
  ]);
  t.throws(() => layout.clusterOf(5), /outside the vocabulary/);
});
