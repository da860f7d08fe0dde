"""Topic-exchange routing: a word trie with a bounded result cache.

HOT: ``TopicTrie.match`` runs once per published routing key on a topic exchange.

Words (RabbitMQ 3.10.8 ``rabbit_exchange_type_topic``)
    Keys and patterns are split on every ``.``; empty words are kept (``a..b`` is ``['a', '', 'b']``,
    ``.`` is ``['', '']``) but the empty string is *zero* words (Python's ``''.split('.')`` would say
    ``['']``, see :func:`split_words`).  In a pattern ``*`` is exactly one word (possibly empty), ``#``
    is zero or more words, and every other word is literal (``a#``, ``*a`` match only themselves).

Data structure
    Patterns without ``*`` or ``#`` (most bindings) match exactly the key spelled like them: they live
    in one dict keyed by the whole pattern, so a key's exact matches are one hash lookup however many
    exact bindings there are and however long the key shares their prefixes.  Only wildcard patterns
    go into the trie (the NATS ``sublist`` layout, with AMQP's grammar), which a match walks only if it
    is not empty.  One :class:`_Node` per distinct wildcard-pattern prefix.  A node holds

    * ``words``: literal word -> child node (a plain dict),
    * ``star`` / ``hash``: the ``*`` and ``#`` children in their own fields, so a wildcard costs a
      pointer check, never a string lookup,
    * ``dests``: destination -> multiplicity, for the patterns that end at this node,
    * ``edges``: how many children it has (``len(words)`` + star + hash), kept as a count so that
      ``remove`` can prune with one comparison, as RabbitMQ's ``remove_path_if_empty`` does,
    * ``loop``: True for a ``#`` node (it may consume further words, i.e. it loops on itself),
    * ``result``: the node's own destinations as a sorted tuple, built lazily on first match.

    Empty ``words``/``dests`` point to one shared empty dict (never mutated) so that 100k leaves do
    not carry 200k empty dicts.  ``remove`` prunes every node left with no edge and no binding, so
    the trie never holds an empty node other than the root.

Match cost model
    ``match`` simulates the pattern automaton over the key's words, one word at a time, keeping the
    set of live nodes.  A live node costs one dict lookup (the literal child) plus two pointer
    checks (``star``, ``loop``) per word; entering a node also follows its ``hash`` chain (a node
    with a ``#`` child may skip it: ``#`` matches zero words).  A ``#`` node stays live for the rest
    of the key (it eats words), so ``#`` tries every suffix without recursion.  Without any ``#``
    two live nodes can never coincide (each node sits at a fixed depth on one pattern prefix), so the
    live list needs no de-duplication; once a ``#`` node has been live, a list that grows past
    ``_DEDUP_AT`` entries is de-duplicated, so each (node, word index) state is expanded about once.
    That is the "visited set" RabbitMQ's newer trie uses; it keeps ``#.*.#.*.#`` linear in the key
    length instead of exponential, without paying for a set on the common short lists.  Total cost: ``words x live nodes x (1 lookup + 2 checks)`` plus the fan-out; the
    number of bindings that do *not* match never enters it.  With only exact bindings the live set
    is one node, so 10 or 100,000 bindings cost the same.

Result order and identity
    Destinations are de-duplicated (a destination bound by several matching patterns appears once)
    and ordered by ``sort_key(dest)`` if given, otherwise by when the destination was first added to
    the trie (among destinations currently bound: one that loses all its bindings and comes back is
    new).  Every miss returns the one shared empty tuple, so callers may test ``if not result``.
    When exactly one trie node matches, the result is that node's stored tuple (no allocation).

Cache
    ``routing key -> result tuple``, at most ``cache_size`` entries; ``cache_size=0`` disables it.  A
    hit is one dict lookup.  Misses (empty results) are cached too.  When the cache is full the
    oldest quarter of the entries (insertion order, FIFO) is evicted, so eviction is amortised O(1)
    and the recently added keys survive.  Invalidation on change is precise for literal patterns
    (a pattern without ``*``/``#`` matches exactly the key spelled like it: one ``dict.pop``) and a
    ``clear()`` for wildcard patterns (cheaper than matching the pattern against every cached key).
    Adding a pair that is already bound, or removing one of several copies, changes no result and
    touches nothing.  Cached tuples are immutable, so a caller holding an old result is unaffected.

Not thread-safe: the broker serialises access (its lock covers bind, unbind and publish).
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Hashable, Iterator

__all__ = ["TopicTrie", "split_words"]

#: The one result of every miss.
_EMPTY: tuple = ()

#: Live-node lists longer than this are de-duplicated (once a '#' node is live).  Duplicates are
#: harmless but can multiply; below the threshold a set costs more than the few repeats it saves.
_DEDUP_AT = 8

#: Shared placeholder for a node's empty ``words``/``dests``.  Never mutated: code that adds to a
#: node replaces it with a fresh dict first; code that empties a node puts it back.
_NONE: dict = {}


def split_words(key: str) -> list[str]:
    """Split a routing key or binding pattern into AMQP words (``''`` is zero words).

    >>> split_words('a..b'), split_words('.'), split_words('')
    (['a', '', 'b'], ['', ''], [])
    """
    return key.split(".") if key else []


def _wildcard_words(pattern: str) -> list[str] | None:
    """The words of a pattern with a ``*`` or ``#`` word; None for a pattern that matches only the key
    spelled like it (``a*b`` and ``#x`` are literal words).  Most patterns have no ``*`` or ``#``
    character at all and are not split."""
    if "*" not in pattern and "#" not in pattern:
        return None
    words = pattern.split(".")
    return words if "*" in words or "#" in words else None


class _Node:
    __slots__ = ("words", "star", "hash", "dests", "edges", "loop", "result")

    def __init__(self, loop: bool = False) -> None:
        self.words: dict[str, _Node] = _NONE
        self.star: _Node | None = None
        self.hash: _Node | None = None
        self.dests: dict[Hashable, int] = _NONE
        self.edges = 0
        self.loop = loop
        self.result: tuple | None = None


class TopicTrie:
    """Multiset of ``(pattern, destination)`` bindings matched against AMQP routing keys.

    ``sort_key`` orders match results (default: order in which destinations were first bound);
    ``cache_size`` bounds the routing-key result cache (0 disables it).  Raises ``ValueError`` when
    ``cache_size`` is not an ``int >= 0``.  Destinations must be hashable.  Not thread-safe.

    >>> t = TopicTrie()
    >>> t.add('eu.*.billing.#', 'q1'); t.add('#.error', 'q2'); t.add('eu.z3.billing.error', 'q1')
    >>> t.match('eu.z3.billing.error')
    ('q1', 'q2')
    >>> t.match('us.z1.web') is t.match('')
    True
    """

    def __init__(self, sort_key: Callable[[Any], Any] | None = None, cache_size: int = 1024) -> None:
        if type(cache_size) is not int or cache_size < 0:
            raise ValueError(f"cache_size must be an int >= 0, got {cache_size!r}")
        self._root = _Node()
        #: patterns without ``*``/``#``: they match exactly the key spelled like them, so they live in
        #: one dict keyed by the whole pattern (a leaf each) and never make a walk longer
        self._exact: dict[str, _Node] = {}
        self._sort_key = sort_key
        self._seq: dict[Hashable, int] = {}  # destination -> first-added number (while bound)
        self._refs: dict[Hashable, int] = {}  # destination -> number of distinct patterns binding it
        self._next_seq = 0
        # Key function for ordering results: C-level dict lookup unless the caller gave one.
        self._order = sort_key if sort_key is not None else self._seq.__getitem__
        self._pairs = 0
        self._nodes = 1
        self._cache: dict[str, tuple] = {}
        self._cache_size = cache_size
        self._evict_count = max(1, cache_size >> 2)
        self._hits = 0
        self._misses = 0

    # ------------------------------------------------------------------ mutation

    def add(self, pattern: str, destination: Hashable) -> None:
        """Bind ``destination`` with ``pattern``; the same pair may be bound several times.

        Raises ``TypeError`` for a non-``str`` pattern or an unhashable destination, before anything
        changes.  Runtime: O(words in pattern), plus a cache ``clear()`` when the pattern has a
        wildcard (one ``dict.pop`` for a literal one; nothing when the pair was already bound).
        """
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be str, got {type(pattern).__name__}")
        hash(destination)  # an unhashable destination fails here, before anything changes
        words_of: list[str] | tuple | None = _wildcard_words(pattern)
        wild = words_of is not None
        if words_of is None:
            node = self._exact.get(pattern)
            if node is None:
                node = self._exact[pattern] = _Node()
            words_of = ()
        else:
            node = self._root
        for word in words_of:
            if word == "*":
                child = node.star
                if child is None:
                    child = node.star = _Node()
                    node.edges += 1
                    self._nodes += 1
                wild = True
            elif word == "#":
                child = node.hash
                if child is None:
                    child = node.hash = _Node(True)
                    node.edges += 1
                    self._nodes += 1
                wild = True
            else:
                words = node.words
                child = words.get(word)
                if child is None:
                    if words is _NONE:
                        words = node.words = {}
                    child = words[word] = _Node()
                    node.edges += 1
                    self._nodes += 1
            node = child
        dests = node.dests
        count = dests.get(destination)
        if count is not None:
            dests[destination] = count + 1  # results unchanged: no invalidation
            return
        if dests is _NONE:
            dests = node.dests = {}
        dests[destination] = 1
        node.result = None
        self._pairs += 1
        refs = self._refs
        n = refs.get(destination)
        if n is None:
            refs[destination] = 1
            self._seq[destination] = self._next_seq
            self._next_seq += 1
        else:
            refs[destination] = n + 1
        cache = self._cache
        if cache:
            if wild:
                cache.clear()
            else:
                cache.pop(pattern, None)

    def remove(self, pattern: str, destination: Hashable) -> None:
        """Drop one copy of the pair; absent pairs are ignored.  Prunes nodes left empty.

        Raises ``TypeError`` for a non-``str`` pattern.  Runtime: O(words in pattern), plus a cache
        ``clear()`` when the last copy of a wildcard pattern's pair goes (one ``dict.pop`` for a
        literal one; nothing while copies remain).
        """
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be str, got {type(pattern).__name__}")
        words_of: list[str] | tuple | None = _wildcard_words(pattern)
        wild = words_of is not None
        if words_of is None:
            node = self._exact.get(pattern)
            if node is None:
                return
            words_of = ()
        else:
            node = self._root
        path: list[tuple[_Node, str]] = []
        for word in words_of:
            if word == "*":
                child = node.star
            elif word == "#":
                child = node.hash
            else:
                child = node.words.get(word)
            if child is None:
                return
            path.append((node, word))
            node = child
        dests = node.dests
        count = dests.get(destination)
        if count is None:
            return
        if count > 1:
            dests[destination] = count - 1
            return
        del dests[destination]
        if not dests:
            node.dests = _NONE
        node.result = None
        self._pairs -= 1
        refs = self._refs
        n = refs[destination]
        if n == 1:
            del refs[destination]
            del self._seq[destination]
        else:
            refs[destination] = n - 1
        if not wild and not node.dests:
            del self._exact[pattern]
        # Prune upwards while the node has neither edges nor bindings (never the root).
        while path and not node.edges and not node.dests:
            parent, word = path.pop()
            if word == "*":
                parent.star = None
            elif word == "#":
                parent.hash = None
            else:
                words = parent.words
                del words[word]
                if not words:
                    parent.words = _NONE
            parent.edges -= 1
            self._nodes -= 1
            node = parent
        cache = self._cache
        if cache:
            if wild:
                cache.clear()
            else:
                cache.pop(pattern, None)

    def clear(self) -> None:
        """Remove every binding and empty the cache (statistics are kept)."""
        self._root = _Node()
        self._exact.clear()
        self._seq.clear()  # cleared in place: self._order may be bound to it
        self._refs.clear()
        self._pairs = 0
        self._nodes = 1
        self._cache.clear()

    # ------------------------------------------------------------------ matching

    def match(self, routing_key: str) -> tuple:
        """Destinations bound by a pattern matching ``routing_key``: de-duplicated, ordered, a tuple.

        HOT (once per publish to a topic exchange).  Every miss returns the same shared empty tuple.
        The result is shared (cached, or a node's stored tuple): treat it as read-only.  Raises
        ``TypeError`` for a non-``str`` key.  Runtime: one dict lookup on a cache hit; otherwise one
        lookup in the exact-pattern table plus the wildcard walk (``words x live nodes``, see the
        module docstring), then the result is cached, evicting the oldest quarter when full.
        """
        result = self._cache.get(routing_key)
        if result is not None:
            self._hits += 1
            return result
        result = self._walk(routing_key)
        self._misses += 1
        size = self._cache_size
        if size:
            cache = self._cache
            if len(cache) >= size:
                self._evict()
            cache[routing_key] = result
        return result

    def _walk(self, key: str) -> tuple:
        """Uncached match: the exact patterns spelled like the key, plus a walk of the wildcard trie."""
        if not isinstance(key, str):
            raise TypeError(f"routing key must be str, got {type(key).__name__}")
        leaf = self._exact.get(key)
        wild = self._walk_trie(key) if self._root.edges else _EMPTY
        if leaf is None:
            return wild
        exact = leaf.result
        if exact is None:
            exact = leaf.result = tuple(sorted(leaf.dests, key=self._order))
        if not wild:
            return exact
        return tuple(sorted(set(exact).union(wild), key=self._order))

    def _walk_trie(self, key: str) -> tuple:
        """Run the live-node automaton of the wildcard patterns over the key's words."""
        words = key.split(".") if key else ()
        n = len(words)
        node = self._root
        i = 0
        # Fast path: one live node and no wildcard edge out of it -> one dict lookup per word.
        while i < n and node.star is None and node.hash is None:
            node = node.words.get(words[i])
            if node is None:
                return _EMPTY
            i += 1
        if i < n or node.hash is not None:
            node = self._walk_wild(node, words, i, n)
            if node is None:
                return _EMPTY
            if type(node) is tuple:
                return node
        elif not node.dests:
            return _EMPTY
        result = node.result
        if result is None:
            result = node.result = tuple(sorted(node.dests, key=self._order))
        return result

    def _walk_wild(self, node: _Node, words: list[str] | tuple, i: int, n: int) -> _Node | tuple | None:
        """General case from ``words[i]`` on: live-node set, ``#`` nodes de-duplicated per step.

        Returns the single matching node, a merged result tuple, or None for no match.
        """
        live = [node]
        h = node.hash
        dedup = h is not None
        while h is not None:  # '#' matches zero words: its node is live at once
            live.append(h)
            h = h.hash
        while i < n:
            word = words[i]
            i += 1
            nxt: list[_Node] = []
            push = nxt.append
            for node in live:
                child = node.words.get(word)
                if child is not None:
                    push(child)
                    h = child.hash
                    if h is not None:
                        dedup = True
                        while h is not None:
                            push(h)
                            h = h.hash
                child = node.star
                if child is not None:
                    push(child)
                    h = child.hash
                    if h is not None:
                        dedup = True
                        while h is not None:
                            push(h)
                            h = h.hash
                if node.loop:
                    push(node)  # '#' eats this word too
            if not nxt:
                return None
            if dedup and len(nxt) > _DEDUP_AT:
                nxt = list(set(nxt))
            live = nxt
        hit = None
        merged = None
        for node in live:
            if node.dests and node is not hit:
                if hit is None:
                    hit = node
                elif merged is None:
                    merged = dict(hit.dests)
                    merged.update(node.dests)
                else:
                    merged.update(node.dests)
        if merged is not None:
            return tuple(sorted(merged, key=self._order))
        return hit

    def _evict(self) -> None:
        """Cache full: drop the oldest quarter of the entries (FIFO by insertion)."""
        cache = self._cache
        for key in list(islice(cache, self._evict_count)):
            del cache[key]

    # ------------------------------------------------------------------ introspection

    def __len__(self) -> int:
        """Number of distinct ``(pattern, destination)`` pairs (copies of a pair count once)."""
        return self._pairs

    def __bool__(self) -> bool:
        return self._pairs > 0

    def patterns(self) -> Iterator[tuple[str, Hashable, int]]:
        """Yield ``(pattern, destination, count)`` for every bound pair (exact patterns first, then the
        wildcard trie depth-first; deterministic).

        ``count`` is the pair's multiplicity.  O(nodes + pairs); mutating the trie while iterating is
        undefined.
        """
        for pattern, leaf in self._exact.items():
            for dest, count in leaf.dests.items():
                yield pattern, dest, count
        stack: list[tuple[_Node, tuple[str, ...]]] = [(self._root, ())]
        while stack:
            node, path = stack.pop()
            if node.dests:
                pattern = ".".join(path)
                for dest, count in node.dests.items():
                    yield pattern, dest, count
            children: list[tuple[_Node, tuple[str, ...]]] = [
                (child, path + (word,)) for word, child in node.words.items()
            ]
            if node.star is not None:
                children.append((node.star, path + ("*",)))
            if node.hash is not None:
                children.append((node.hash, path + ("#",)))
            stack.extend(reversed(children))

    def stats(self) -> dict[str, int]:
        """Counters: bindings (distinct pairs), nodes, cache entries/size, cache hits and misses.

        ``cache_misses`` counts uncached walks (every match when the cache is disabled); the counters
        survive :meth:`clear`.  A new dict each call, O(1).
        """
        return {
            "bindings": self._pairs,
            "nodes": self._nodes,
            "cache_entries": len(self._cache),
            "cache_size": self._cache_size,
            "cache_hits": self._hits,
            "cache_misses": self._misses,
        }

    def __repr__(self) -> str:
        return (f"<TopicTrie bindings={self._pairs} nodes={self._nodes} "
                f"cache={len(self._cache)}/{self._cache_size}>")

    def _check(self) -> None:
        """Assert every invariant; on failure print the trie and re-raise."""
        try:
            self._check_invariants()
        except AssertionError:
            print("TopicTrie._check failed:", repr(self))
            for pattern, dest, count in self.patterns():
                print(f"  {pattern!r} -> {dest!r} x{count}")
            print("  cache:", self._cache)
            raise

    def _check_invariants(self) -> None:
        assert not _NONE, f"shared empty dict was mutated: {_NONE!r}"
        nodes = 0
        pairs = 0
        refs: dict[Hashable, int] = {}

        def check_bindings(node: _Node, kind: str) -> int:
            """Multiplicities and the cached result of the patterns ending at ``node``; counts refs."""
            for dest, count in node.dests.items():
                assert type(count) is int and count >= 1, f"bad multiplicity {count!r} for {dest!r}"
                refs[dest] = refs.get(dest, 0) + 1
            if node.result is not None:
                expect = tuple(sorted(node.dests, key=self._order))
                assert node.result == expect, f"stale {kind} result {node.result!r} != {expect!r}"
            return len(node.dests)

        stack: list[tuple[_Node, bool]] = [(self._root, True)]
        while stack:
            node, is_root = stack.pop()
            nodes += 1
            kids = list(node.words.values())
            for word in node.words:
                assert word not in ("*", "#"), f"wildcard {word!r} stored as a literal word"
            if node.star is not None:
                kids.append(node.star)
            if node.hash is not None:
                kids.append(node.hash)
            assert node.edges == len(kids), f"edges={node.edges}, children={len(kids)}"
            assert not (node.words == {} and node.words is not _NONE), "empty words dict not shared"
            assert not (node.dests == {} and node.dests is not _NONE), "empty dests dict not shared"
            if not is_root:
                assert node.edges or node.dests, "empty non-root node not pruned"
            for child in node.words.values():
                assert not child.loop, "literal child marked as '#'"
            if node.star is not None:
                assert not node.star.loop, "'*' child marked as '#'"
            if node.hash is not None:
                assert node.hash.loop, "'#' child not marked as '#'"
            pairs += check_bindings(node, "node")
            stack.extend((kid, False) for kid in kids)
        assert not self._root.dests, "a pattern without wildcards stored in the trie"
        for pattern, leaf in self._exact.items():
            assert _wildcard_words(pattern) is None, f"wildcard pattern {pattern!r} in the exact table"
            assert leaf.dests, f"empty exact leaf {pattern!r} not removed"
            assert not leaf.edges and leaf.words is _NONE, "an exact leaf with children"
            pairs += check_bindings(leaf, "exact")
        assert nodes == self._nodes, f"node count {self._nodes} != {nodes} counted"
        assert pairs == self._pairs, f"pair count {self._pairs} != {pairs} counted"
        assert refs == self._refs, f"destination refs {self._refs!r} != {refs!r} counted"
        assert self._seq.keys() == refs.keys(), "first-added order table out of step"
        assert len(set(self._seq.values())) == len(self._seq), "duplicate order numbers"
        assert all(s < self._next_seq for s in self._seq.values()), "order number from the future"
        cache = self._cache
        assert len(cache) <= self._cache_size, f"cache holds {len(cache)} > {self._cache_size}"
        for key, cached in cache.items():
            fresh = self._walk(key)
            assert cached == fresh, f"stale cache entry {key!r}: cached {cached!r}, fresh {fresh!r}"
            if not cached:
                assert cached is _EMPTY, "an empty result that is not the shared empty tuple"
