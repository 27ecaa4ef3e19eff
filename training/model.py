"""LSTM language model with an adaptive-softmax output layer (three variants).

- keyboard: ClusteredAdaptiveSoftmax, any layout of contiguous clusters inside
  bands (one shared projection per band, one output matrix per cluster).
- paper:    torch.nn.AdaptiveLogSoftmaxWithLoss (cutoffs, div_value 4).
- full:     a dense softmax over the whole vocabulary (the twin).

The input embedding is adaptive (Baevski & Auli 2019): band b embeds in d_b
and projects to d. For the adaptive outputs it is tied to the output rows
(head word rows for the shortlist, the band's output rows for tails), which
roughly halves the bundle.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

_lstm_op = getattr(torch, "lstm", None) or torch._VF.lstm  # what nn.LSTM.forward calls


class ClusteredAdaptiveSoftmax(nn.Module):
    """log p(w|h) = log p(cluster(w)|h) + log p(w | cluster, h) for tail words,
    log p(w|h) from the head for shortlist words. Head items: shortlist words,
    then one item per cluster, in layout order."""

    def __init__(self, d, layout):
        super().__init__()
        self.shortlist = layout.shortlist
        self.bands = layout.bands
        self.clusters = layout.clusters
        self.head = nn.Linear(d, self.shortlist + len(self.clusters), bias=False)
        self.proj = nn.ModuleList(nn.Linear(d, b.dim, bias=False) for b in self.bands)
        self.emb = nn.ParameterList(nn.Parameter(torch.randn(b.end - b.start, b.dim) * b.dim ** -0.5) for b in self.bands)
        vocab = self.bands[-1].end
        cluster_of = torch.full((vocab,), -1, dtype=torch.long)
        for ci, c in enumerate(self.clusters):
            cluster_of[c.start:c.end] = ci
        self.register_buffer("cluster_of", cluster_of, persistent=False)
        band_of = torch.tensor([c.band for c in self.clusters] + [-1], dtype=torch.long)  # [-1]: head words
        self.register_buffer("band_of", band_of, persistent=False)

    def cluster_rows(self, ci):
        c = self.clusters[ci]
        b = self.bands[c.band]
        return self.emb[c.band][c.start - b.start:c.end - b.start]

    def target_log_prob(self, h, target):
        """log p(target_i | h_i) [N]: the head, and for a tail target only its own cluster."""
        head_lp = F.log_softmax(self.head(h), dim=-1)
        lp = head_lp.gather(1, target.clamp(max=self.shortlist - 1)[:, None]).squeeze(1)
        cl = self.cluster_of[target]
        for bi, band in enumerate(self.bands):
            rows = (self.band_of[cl] == bi).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            # One matmul over the whole band, then a log-softmax restricted to
            # each row's own cluster (mask the other clusters' columns).
            logits = self.proj[bi](h[rows]) @ self.emb[bi].t()
            rcl = cl[rows]
            own = self.cluster_of[band.start:band.end][None, :] == rcl[:, None]
            lse = logits.masked_fill(~own, float("-inf")).logsumexp(dim=1)
            tgt = logits.gather(1, (target[rows] - band.start)[:, None]).squeeze(1)
            lp[rows] = tgt - lse + head_lp[rows, self.shortlist + rcl]
        return lp

    def nll(self, h, target):
        """Summed negative log-likelihood of target [N] given h [N, d]."""
        return -self.target_log_prob(h, target).sum()

    def log_prob(self, h):
        """The whole distribution [N, V], every tail evaluated (tests, stats)."""
        head_lp = F.log_softmax(self.head(h), dim=-1)
        parts = [head_lp[:, :self.shortlist]]
        zs = [p(h) for p in self.proj]
        for ci, c in enumerate(self.clusters):
            within = F.log_softmax(zs[c.band] @ self.cluster_rows(ci).t(), dim=-1)
            parts.append(head_lp[:, self.shortlist + ci, None] + within)
        return torch.cat(parts, dim=1)

    def export_weights(self):
        return {"head": self.head.weight, "proj": [p.weight for p in self.proj], "emb": list(self.emb)}


class PaperAdaptiveSoftmax(nn.Module):
    """nn.AdaptiveLogSoftmaxWithLoss behind the same interface."""

    def __init__(self, d, layout, div_value=4.0):
        super().__init__()
        self.shortlist = layout.shortlist
        self.bands = layout.bands
        self.clusters = layout.clusters
        cutoffs = [b.start for b in self.bands]
        self.asm = nn.AdaptiveLogSoftmaxWithLoss(d, self.bands[-1].end, cutoffs, div_value=div_value)
        assert [t[0].out_features for t in self.asm.tail] == [b.dim for b in self.bands]

    @property
    def head(self):
        return self.asm.head

    @property
    def emb(self):
        return [t[1].weight for t in self.asm.tail]

    def nll(self, h, target):
        return -self.asm(h, target).output.sum()

    def log_prob(self, h):
        return self.asm.log_prob(h)

    def export_weights(self):
        return {"head": self.asm.head.weight, "proj": [t[0].weight for t in self.asm.tail], "emb": self.emb}


class FullSoftmax(nn.Module):
    def __init__(self, d, vocab):
        super().__init__()
        self.out = nn.Linear(d, vocab, bias=False)

    def nll(self, h, target):
        return F.cross_entropy(self.out(h), target, reduction="sum")

    def log_prob(self, h):
        return F.log_softmax(self.out(h), dim=-1)


class AdaptiveInput(nn.Module):
    """Band b: rows of a (n_b x d_b) table, projected to d. With `tied`, the
    tables are the output layer's (head word rows and tail band rows)."""

    def __init__(self, d, layout, tied=None):
        super().__init__()
        self.shortlist = layout.shortlist
        self.bands = layout.bands
        self.tied = tied
        if tied is None:
            self.head_table = nn.Parameter(torch.randn(self.shortlist, d) * d ** -0.5)
            self.tables = nn.ParameterList(nn.Parameter(torch.randn(b.end - b.start, b.dim) * b.dim ** -0.5) for b in self.bands)
        self.up = nn.ModuleList(nn.Linear(b.dim, d, bias=False) for b in self.bands)

    def weights(self):
        if self.tied is None:
            return self.head_table, list(self.tables)
        return self.tied.head.weight[:self.shortlist], list(self.tied.emb)

    def forward(self, tokens):
        head_table, tables = self.weights()
        out = F.embedding(tokens.clamp(max=self.shortlist - 1), head_table) * (tokens < self.shortlist).unsqueeze(-1)
        for b, table, up in zip(self.bands, tables, self.up):
            mask = (tokens >= b.start) & (tokens < b.end)
            local = (tokens - b.start).clamp(0, b.end - b.start - 1)
            out = out + up(F.embedding(local, table)) * mask.unsqueeze(-1)
        return out


def locked_dropout(x, p):
    """Variational ("locked") dropout on a batch-first [B, T, D] sequence: one
    mask per stream and unit, the same at every time step (Gal & Ghahramani
    2016; AWD-LSTM). Call only in training."""
    if p <= 0:
        return x
    mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p) / (1 - p)
    return x * mask


class LanguageModel(nn.Module):
    """Adaptive input -> LSTM (`layers` x `d`) -> adaptive softmax.

    Two regularization schemes; in eval mode both are the same plain LSTM, so
    a checkpoint's state dict (keys `lstm.weight_ih_l{k}` ...) exports the
    same way whichever trained it:
    - plain (`dropout`): nn.Dropout on the embeddings and the output, and
      nn.LSTM's own dropout between layers;
    - AWD-LSTM (Merity, Keskar & Socher 2017), on when any of `wdrop`,
      `dropouti`, `dropouth`, `dropouto` is > 0 (then `dropout` must be 0):
      DropConnect on each layer's hidden-to-hidden matrix (`wdrop`, one mask
      per forward call, i.e. per BPTT segment), locked dropout on the LSTM's
      input (`dropouti`), between layers (`dropouth`) and on its output
      (`dropouto`). The layers then run one at a time through torch.lstm,
      the op nn.LSTM calls, on each layer's weights with W_hh dropped: CUDA
      still runs cuDNN's kernel and gradients reach the raw weights.
      (Not functional_call on an nn.LSTM: on CUDA its flatten_parameters
      would rebind the substituted weights' storage in place.)
    `dropoute` (both schemes) drops whole words of the input embedding: every
    occurrence of a dropped word in the batch embeds to zero.
    """

    def __init__(self, kind, layout, d=512, layers=1, dropout=0.25, wdrop=0.0, dropouti=0.0, dropouth=0.0,
                 dropouto=0.0, dropoute=0.0):
        super().__init__()
        self.kind = kind
        self.d, self.layers = d, layers
        self.vocab = vocab = layout.bands[-1].end
        self.wdrop, self.dropouti, self.dropouth, self.dropouto = wdrop, dropouti, dropouth, dropouto
        self.dropoute = dropoute
        self.awd = any(p > 0 for p in (wdrop, dropouti, dropouth, dropouto))
        if self.awd and dropout > 0:
            raise ValueError("AWD dropouts (wdrop, dropouti/h/o) replace the plain dropout: set dropout=0")
        if kind == "keyboard":
            self.output = ClusteredAdaptiveSoftmax(d, layout)
        elif kind == "paper":
            self.output = PaperAdaptiveSoftmax(d, layout)
        elif kind == "full":
            self.output = FullSoftmax(d, vocab)
        else:
            raise ValueError(kind)
        self.input = AdaptiveInput(d, layout, tied=None if kind == "full" else self.output)
        self.lstm = nn.LSTM(d, d, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)

    def _embed(self, tokens):
        x = self.input(tokens)
        if self.training and self.dropoute > 0:
            keep = x.new_empty(self.vocab).bernoulli_(1 - self.dropoute) / (1 - self.dropoute)
            x = x * keep[tokens].unsqueeze(-1)
        return x

    def _awd_lstm(self, x, state):
        """Training-mode AWD path: layer by layer, weight-dropped, locked
        dropout in between. Returns (output, (h_n, c_n), last layer's raw output)."""
        if state is None:
            zero = x.new_zeros(self.layers, x.size(0), self.d)
            state = (zero, zero)
        x = locked_dropout(x, self.dropouti)
        hs, cs = [], []
        for k in range(self.layers):
            weights = [getattr(self.lstm, f"weight_ih_l{k}"),
                       F.dropout(getattr(self.lstm, f"weight_hh_l{k}"), self.wdrop, training=True),
                       getattr(self.lstm, f"bias_ih_l{k}"), getattr(self.lstm, f"bias_hh_l{k}")]
            # The op nn.LSTM.forward calls (cuDNN on CUDA), on a list of weights
            # that stay ours: nothing is flattened or changed in place.
            raw, h, c = _lstm_op(x, (state[0][k:k + 1], state[1][k:k + 1]), weights,
                                   True, 1, 0.0, True, False, True)
            hs.append(h)
            cs.append(c)
            x = locked_dropout(raw, self.dropouth) if k < self.layers - 1 else raw
        return locked_dropout(raw, self.dropouto), (torch.cat(hs), torch.cat(cs)), raw

    def run(self, tokens, state=None):
        """(output fed to the softmax [B, T, d], final state, the last layer's
        output before its dropout): the last two for activation regularization."""
        x = self._embed(tokens)
        if self.awd and self.training:
            return self._awd_lstm(x, state)
        raw, state = self.lstm(self.drop(x), state)
        return self.drop(raw), state, raw

    def hidden(self, tokens, state=None):
        out, state, _ = self.run(tokens, state)
        return out, state

    def nll(self, tokens, targets, state=None, ignore=None):
        """Summed NLL over targets != ignore, the count, and the final state."""
        nll, n, state, _ = self.loss(tokens, targets, state, ignore)
        return nll, n, state

    def loss(self, tokens, targets, state=None, ignore=None, alpha=0.0, beta=0.0):
        """nll()'s three values and the activation regularization of AWD-LSTM:
        alpha * mean(out^2) on the (dropped) output (AR) plus beta * mean((raw_t -
        raw_{t-1})^2) on the raw output (TAR), a per-element mean to add to the
        per-token loss (0 when alpha = beta = 0)."""
        out, state, raw = self.run(tokens, state)
        reg = out.new_zeros(())
        if alpha > 0:
            reg = reg + alpha * out.float().pow(2).mean()
        if beta > 0 and raw.size(1) > 1:
            reg = reg + beta * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
        h, t = out.reshape(-1, self.d), targets.reshape(-1)
        if ignore is not None:
            keep = t != ignore
            h, t = h[keep], t[keep]
        return self.output.nll(h, t), t.numel(), state, reg
