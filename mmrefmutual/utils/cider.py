"""CIDEr-D with corpus document frequencies and cached reference vectors.

(One algorithm in one file, shared by the RL reward and the REG metric: hence its length.)

Why our own scorer: pycocoevalcap's ``CiderScorer`` recomputes the document frequencies
(from the very batch it scores) and re-vectorises every reference on each call, and has no
API to fix the document frequencies to a corpus. As an RL reward (self-critical training
of the generation head) it is called every step on a few dozen sampled expressions, so
we compute the document frequencies and the reference vectors once and only vectorise the
candidates per step. The PTB tokenizer of pycocoevalcap is Java (~0.3 s per call) and
must never run in a training step: tokenisation here is a lower-case whitespace split of
text that already went through the project's normalisation
(``mmrefmutual.datasets.text.normalize_expression``, see ``docs/data_flow.md``), which is
what both dataset sentences and generated expressions are.
"""
from collections import Counter
from itertools import repeat
from typing import Dict, Hashable, List, Mapping, Sequence, Tuple, Union

import numpy as np

Ngram = Tuple[str, ...]
_BASE = 1 << 31  # ids of n-grams and words stay below 2**31 so codes fit in int64
RefsLike = Union[Hashable, Sequence[str]]


class CiderD:
    """CIDEr-D scorer whose document frequencies come from a fixed reference corpus.

    The definition is exactly the one of pycocoevalcap 1.2's
    ``pycocoevalcap.cider.cider_scorer.CiderScorer`` (what ``Cider().compute_score``
    reports as "CIDEr", i.e. CIDEr-D of Vedantam et al.), with one difference: the
    document frequencies ``df`` and ``ref_len`` come from ``corpus`` instead of from the
    set being scored. For n-gram orders ``1..n`` and ``idf(g) = ref_len - log(max(1, df(g)))``
    with ``ref_len = log(number of corpus documents)`` (a document is the list of reference
    sentences of one object):

    - a sentence is the tf-idf vector ``tf(g) * idf(g)`` per order; an n-gram absent from
      the corpus has ``df = 0`` (idf ``ref_len``);
    - similarity to one reference, per order: ``sum_g min(v_cand(g), v_ref(g)) * v_ref(g)``
      (clipping) divided by the product of the two vector norms (left undivided, i.e. 0,
      when a norm is 0, like pycocoevalcap), times the Gaussian length penalty
      ``exp(-delta**2 / (2 * sigma**2))``. As in pycocoevalcap, ``delta`` is the
      difference of the numbers of **bigrams** (its ``length`` counts order-2 n-grams);
    - score = mean over orders of the sum over references, divided by the number of
      references, times 10.

    Constructed with the scored set itself as corpus (one document per scored item, in
    the same order), the scores equal ``CiderScorer``'s.

    Implementation: reference sentences are deduplicated by text; each is stored as
    sparse (row, n-gram id) -> term-frequency entries in one sorted array, with its
    per-order norms and bigram count, computed once. A call to :meth:`score` splits the
    candidates into words, finds their n-gram ids with integer codes (word id, then
    (prefix id, last word id) per order) in numpy, and looks up all (reference, candidate
    n-gram) pairs with one ``np.searchsorted``; no Python loop runs over n-grams.

    Args:
        corpus (Sequence[Sequence[str]] | Mapping[Hashable, Sequence[str]]): Reference
            documents, e.g. all training refs (list of lists of sentences, keyed by
            position) or ``{ref_id: [sentences]}``. Defines the document frequencies and
            the keys accepted by :meth:`score`.
        n (int): Largest n-gram order. Defaults to 4.
        sigma (float): Standard deviation of the length penalty. Defaults to 6.0.
        lowercase (bool): Lower-case before splitting on whitespace. Defaults to True.

    Note:
        :meth:`score` reads a list/tuple as reference sentences and anything else as a
        corpus key, so corpus keys must not be lists or tuples (use ints or strings).

    Example:
        >>> scorer = CiderD({1: ['a red car', 'the red car'], 2: ['a man']})
        >>> scorer.score(['red car', 'a man'], [1, 2])  # by corpus key
        >>> scorer.score(['red car'], [['a red car', 'car on the left']])  # explicit refs
    """

    def __init__(self,
                 corpus: Union[Sequence[Sequence[str]], Mapping[Hashable, Sequence[str]]],
                 n: int = 4,
                 sigma: float = 6.0,
                 lowercase: bool = True) -> None:
        if isinstance(corpus, Mapping):
            keys = list(corpus.keys())
            docs = [corpus[k] for k in keys]
        else:
            docs = list(corpus)
            keys = list(range(len(docs)))
        if len(docs) == 0:
            raise ValueError('CiderD needs a non-empty reference corpus.')
        self.n = int(n)
        self.sigma = float(sigma)
        self.lowercase = lowercase

        # n-gram vocabulary; ids are appended for n-grams first seen in refs given to score()
        self._ngram_ids: Dict[Ngram, int] = {}
        self._ngrams_by_id: List[Ngram] = []
        df: List[int] = []
        doc_counts: List[List[Tuple[str, Counter]]] = []
        for refs in docs:
            counted = [self._cook(s) for s in refs]
            seen = set()
            for _, counts in counted:
                seen.update(counts)
            for gram in seen:
                idx = self._ngram_ids.get(gram)
                if idx is None:
                    idx = self._ngram_ids[gram] = len(self._ngrams_by_id)
                    self._ngrams_by_id.append(gram)
                    df.append(0)
                df[idx] += 1
            doc_counts.append(counted)
        self.num_docs = len(docs)
        self.ref_len = float(np.log(float(self.num_docs)))
        self._order = np.asarray([len(g) - 1 for g in self._ngrams_by_id], dtype=np.int64)
        # The trailing entry is the idf of an n-gram absent from the corpus (df = 0): n-grams
        # of candidates that are not in the vocabulary get id -1, which indexes it.
        self._idf = np.append(
            self.ref_len - np.log(np.maximum(1.0, np.asarray(df, dtype=np.float64))),
            self.ref_len)
        self._df = np.asarray(df, dtype=np.int64)

        # Lookup tables for candidates (see _index_ngrams): word -> id of its unigram, and
        # sorted codes prefix_id * _BASE + last_word_id -> id of n-grams of order >= 2.
        self._word_ids: Dict[str, int] = {}
        self._next_codes = np.zeros(0, dtype=np.int64)
        self._next_ids = np.zeros(0, dtype=np.int64)
        self._num_indexed = 0

        # reference sentence table: row per unique sentence text
        self._sent_rows: Dict[str, int] = {}
        self._row_norms = np.zeros((0, self.n))
        self._row_lengths = np.zeros(0)
        self._keys = np.zeros(0, dtype=np.int64)  # sorted (row << 32) | ngram_id
        self._tfs = np.zeros(0, dtype=np.uint32)  # term frequency of each entry
        self._pending: List[Tuple[int, np.ndarray, np.ndarray]] = []
        self._doc_rows: Dict[Hashable, np.ndarray] = {}
        for key, counted in zip(keys, doc_counts):
            self._doc_rows[key] = np.asarray(
                [self._add_sentence(text, counts) for text, counts in counted], dtype=np.int64)
        self._flush()

    # ------------------------------------------------------------------ helpers
    def _ngrams(self, sentence: str) -> Tuple[List[str], List[Ngram]]:
        """Tokenise a sentence and list its n-grams of orders 1..n, with repetitions.

        Returns:
            tuple[list[str], list[tuple[str, ...]]]: Words and n-grams.
        """
        words = (sentence.lower() if self.lowercase else sentence).split()
        shifted = [words[i:] for i in range(self.n)]
        grams: List[Ngram] = []
        for k in range(1, self.n + 1):
            grams += zip(*shifted[:k])  # k-grams, built in C
        return words, grams

    def _cook(self, sentence: str) -> Tuple[str, Counter]:
        """Tokenised text (the dedup key) and n-gram counts (pycocoevalcap's ``precook``)."""
        words, grams = self._ngrams(sentence)
        return ' '.join(words), Counter(grams)

    def _add_sentence(self, text: str, counts: Counter) -> int:
        """Register a reference sentence and return its row (cached by text)."""
        row = self._sent_rows.get(text)
        if row is not None:
            return row
        row = self._sent_rows[text] = len(self._sent_rows)
        ids = np.empty(len(counts), dtype=np.int64)
        for j, gram in enumerate(counts):
            idx = self._ngram_ids.get(gram)
            if idx is None:  # not in the corpus: df = 0 by definition
                idx = self._ngram_ids[gram] = len(self._ngrams_by_id)
                self._ngrams_by_id.append(gram)
            ids[j] = idx
        self._pending.append((row, ids, np.fromiter(counts.values(), np.int64, len(counts))))
        return row

    def _index_ngrams(self) -> None:
        """Add the n-grams registered since the last call to the candidate lookup tables.

        A k-gram (k >= 2) is found from the id of its (k-1)-gram prefix and the id of its
        last word, so candidates are looked up with integer codes in numpy rather than
        by hashing n-gram tuples in Python. The prefix and the last word of a registered
        n-gram are registered too (same sentence), so every n-gram has a code.
        """
        new = self._ngrams_by_id[self._num_indexed:]
        if not new:
            return
        ids = self._ngram_ids
        codes, targets = [], []
        for idx, gram in enumerate(new, start=self._num_indexed):
            if len(gram) == 1:
                self._word_ids[gram[0]] = idx
            else:
                codes.append(ids[gram[:-1]] * _BASE + ids[gram[-1:]])
                targets.append(idx)
        self._num_indexed = len(self._ngrams_by_id)
        codes = np.concatenate([self._next_codes, np.asarray(codes, dtype=np.int64)])
        targets = np.concatenate([self._next_ids, np.asarray(targets, dtype=np.int64)])
        sort = np.argsort(codes)
        self._next_codes, self._next_ids = codes[sort], targets[sort]

    def _flush(self) -> None:
        """Vectorise the pending reference sentences and merge them into the table."""
        self._index_ngrams()
        if not self._pending:
            return
        if len(self._ngrams_by_id) > len(self._order):
            num_new = len(self._ngrams_by_id) - len(self._order)
            self._order = np.concatenate([
                self._order,
                np.fromiter((len(g) - 1 for g in self._ngrams_by_id[-num_new:]), np.int64,
                            num_new)
            ])
            self._idf = np.concatenate([self._idf[:-1], np.full(num_new + 1, self.ref_len)])
            self._df = np.concatenate([self._df, np.zeros(num_new, np.int64)])
        rows = np.concatenate([np.full(len(ids), r, np.int64) for r, ids, _ in self._pending])
        ids = np.concatenate([ids for _, ids, _ in self._pending])
        tfs = np.concatenate([tf for _, _, tf in self._pending])
        first_row, num_rows = self._pending[0][0], len(self._pending)
        self._pending = []

        local = rows - first_row
        order = self._order[ids]
        weights = (tfs * self._idf[ids])**2
        norms = np.sqrt(
            np.bincount(local * self.n + order, weights, minlength=num_rows * self.n))
        lengths = np.bincount(local, tfs * (order == 1), minlength=num_rows)
        self._row_norms = np.concatenate([self._row_norms, norms.reshape(num_rows, self.n)])
        self._row_lengths = np.concatenate([self._row_lengths, lengths])

        # New rows have larger row ids than every stored one, so their sorted keys simply
        # go after the stored keys: no re-sort of the whole table.
        keys = (rows << 32) | ids
        sort = np.argsort(keys)
        self._keys = np.concatenate([self._keys, keys[sort]])
        self._tfs = np.concatenate([self._tfs, tfs[sort].astype(np.uint32)])

    def _resolve_refs(self, refs: RefsLike) -> np.ndarray:
        """Rows of the reference sentences of one candidate."""
        if isinstance(refs, (list, tuple)):
            rows = [self._add_sentence(*self._cook(s)) for s in refs]
            return np.asarray(rows, dtype=np.int64)
        if hasattr(refs, 'item'):  # 0-d tensor / numpy scalar key
            refs = refs.item()
        try:
            return self._doc_rows[refs]
        except KeyError:
            raise KeyError(f'{refs!r} is not a key of the CiderD corpus; pass the reference '
                           'sentences as a list instead.') from None

    def _count_candidate_ngrams(self, words: List[str],
                                num_words: List[int]) -> Tuple[np.ndarray, ...]:
        """Count the n-grams of the candidates.

        Every n-gram occurrence gets an identity: its vocabulary id when the corpus (or a
        reference seen so far) has it, otherwise a per-call id >= vocab size shared by equal
        unseen n-grams (their term frequencies still matter for the candidate norm).
        Identities are built order by order from (identity of the prefix, last word).

        Args:
            words (List[str]): Words of all candidates, concatenated.
            num_words (List[int]): Number of words of each candidate.

        Returns:
            tuple[np.ndarray]: Per distinct (candidate, n-gram), sorted by candidate:
            ``candidate * n + order - 1``, vocabulary id (-1 when unseen: idf of df 0, never
            in the reference table) and term frequency (float).
        """
        n, num_cands, vocab_size = self.n, len(num_words), len(self._idf) - 1
        total = len(words)
        lens = np.asarray(num_words, dtype=np.int64)
        gid = np.fromiter(map(self._word_ids.get, words, repeat(-1)), np.int64, total)
        ident = gid.copy()
        unseen = np.flatnonzero(gid < 0).tolist()
        if unseen:
            local: Dict[str, int] = {}
            ident[unseen] = [vocab_size + local.setdefault(words[i], len(local)) for i in unseen]
        next_ident = vocab_size + len(unseen)
        word_slot = np.repeat(np.arange(num_cands) * n, lens)
        # words from each position to the end of its candidate
        left = np.repeat(np.cumsum(lens), lens) - np.arange(total)
        slots, idents = [word_slot], [ident]
        word_gid, word_ident = gid, ident
        for k in range(1, n):  # order k + 1, indexed by start position
            valid = np.flatnonzero(left > k)
            last_gid, last_ident = word_gid[valid + k], word_ident[valid + k]
            prev_gid, prev_ident = gid[valid], ident[valid]
            gid = np.full(total, -1, dtype=np.int64)
            known = np.flatnonzero((prev_gid >= 0) & (last_gid >= 0))
            if len(known) and len(self._next_codes):
                codes = prev_gid[known] * _BASE + last_gid[known]
                pos = np.searchsorted(self._next_codes, codes)
                pos = np.minimum(pos, len(self._next_codes) - 1)
                found = self._next_codes[pos] == codes
                gid[valid[known[found]]] = self._next_ids[pos[found]]
            ident = gid.copy()
            miss = np.flatnonzero(gid[valid] < 0)
            if len(miss):
                pairs = prev_ident[miss] * _BASE + last_ident[miss]
                _, inverse = np.unique(pairs, return_inverse=True)
                ident[valid[miss]] = next_ident + inverse
                next_ident += len(pairs)
            slots.append(word_slot[valid] + k)
            idents.append(ident[valid])
        slots, idents = np.concatenate(slots), np.concatenate(idents)
        stride = next_ident + 1
        codes, tf = np.unique(slots * stride + idents, return_counts=True)
        cand_slot, ident = np.divmod(codes, stride)
        return cand_slot, np.where(ident < vocab_size, ident, -1), tf.astype(np.float64)

    # ------------------------------------------------------------------ scoring
    def score(self, candidates: Sequence[str], refs: Sequence[RefsLike]) -> np.ndarray:
        """CIDEr-D of every candidate against its references.

        Args:
            candidates (Sequence[str]): Candidate expressions (normalised text).
            refs (Sequence): Per candidate, either a corpus key (cached reference vectors,
                the fast path) or a list/tuple of reference sentences (vectorised once,
                then cached by text; their unseen n-grams have ``df = 0``).

        Returns:
            np.ndarray: Float64 scores, shape ``(len(candidates),)``.
        """
        if len(candidates) != len(refs):
            raise ValueError(f'{len(candidates)} candidates but {len(refs)} reference sets')
        num_cands, n = len(candidates), self.n
        if num_cands == 0:
            return np.zeros(0)
        ref_rows = [self._resolve_refs(r) for r in refs]
        num_refs = np.fromiter(map(len, ref_rows), np.int64, num_cands)
        if (num_refs == 0).any():
            raise ValueError('Every candidate needs at least one reference sentence.')
        self._flush()

        words: List[str] = []
        num_words: List[int] = []
        for text in candidates:
            cand_words = (text.lower() if self.lowercase else text).split()
            words += cand_words
            num_words.append(len(cand_words))
        cand_slot, gram_ids, cand_tf = self._count_candidate_ngrams(words, num_words)
        cand_idx, orders = np.divmod(cand_slot, n)
        sizes = np.bincount(cand_idx, minlength=num_cands)
        idf = self._idf[gram_ids]
        cand_norms = np.sqrt(
            np.bincount(cand_slot, (cand_tf * idf)**2,
                        minlength=num_cands * n)).reshape(num_cands, n)
        cand_lengths = np.bincount(cand_idx, cand_tf * (orders == 1), minlength=num_cands)

        # every (candidate, reference) pair x the candidate's n-grams
        pair_cand = np.repeat(np.arange(num_cands), num_refs)
        pair_row = np.concatenate(ref_rows)
        num_pairs = len(pair_cand)
        pair_sizes = sizes[pair_cand]
        entry_pair = np.repeat(np.arange(num_pairs), pair_sizes)
        shift = (np.cumsum(sizes) - sizes)[pair_cand] - (np.cumsum(pair_sizes) - pair_sizes)
        entry = np.arange(len(entry_pair)) + np.repeat(shift, pair_sizes)
        # unseen n-grams: (row << 32) | -1 == -1 never matches a key
        lookup = (pair_row[entry_pair] << 32) | gram_ids[entry]
        if len(self._keys):
            pos = np.minimum(np.searchsorted(self._keys, lookup), len(self._keys) - 1)
            ref_tf = np.where(self._keys[pos] == lookup, self._tfs[pos], 0).astype(np.float64)
        else:  # every reference is empty
            ref_tf = np.zeros(len(lookup))
        # min(tf_c * idf, tf_r * idf) * tf_r * idf, with idf >= 0
        clipped = np.minimum(cand_tf[entry], ref_tf) * ref_tf * idf[entry]**2
        dots = np.bincount(entry_pair * n + orders[entry], clipped,
                           minlength=num_pairs * n).reshape(num_pairs, n)
        denom = cand_norms[pair_cand] * self._row_norms[pair_row]
        sims = np.divide(dots, denom, out=dots.copy(), where=denom != 0)
        delta = cand_lengths[pair_cand] - self._row_lengths[pair_row]
        sims *= np.exp(-(delta**2) / (2 * self.sigma**2))[:, None]

        # sum over each candidate's references, then mean over orders
        slots = (pair_cand[:, None] * n + np.arange(n)).ravel()
        per_cand = np.bincount(slots, sims.ravel(), minlength=num_cands * n)
        return per_cand.reshape(num_cands, n).mean(axis=1) / num_refs * 10.0
