#!/usr/bin/env python3
"""Does a storyboard keep its world? Colour of the object across shots, through the real service.

    python training/storyboard_eval.py [--backend target/debug/backend] [--n 16] [--seed 7] [--out DIR]

Starts `backend serve` with embedded defaults (the shipped model, one in-process worker) on a
free port with a fresh data folder, mints an invite and signs up over GraphQL, then asks for `n`
storyboards of three 3-second shots: the world prompt names the object and its colour ("a small
pink ball"), each shot puts it in another setting (grass, desert, snow, sea, night; drawn without
repeats), and nothing else names a colour. Each video is downloaded through its signed link,
cut into its shots by frame count, and every shot is read by `evaluate.analyse` (the same checker
as the adherence evaluation: it reads only the decoded pixels). Reported: the share of shots whose
object has the colour asked for, and the share of storyboards whose three shots agree with each
other (whatever the colour). Needs numpy and PyAV (training/requirements.txt).
"""

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import evaluate  # noqa: E402

COLOURS = ["red", "blue", "yellow", "white", "green", "pink", "orange", "purple"]
SETTINGS = {
    "grass": "on green grass in a park",
    "desert": "in a sandy desert",
    "snow": "in white snow",
    "sea": "on the sea",
    "night": "under the night sky",
}
SHOT_SECONDS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gql(url, query, variables=None, token=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url + "/graphql", body, {"content-type": "application/json"})
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.loads(r.read())
    if out.get("errors"):
        raise RuntimeError(json.dumps(out["errors"]))
    return out["data"]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="target/debug/backend")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="keep the videos and a report.json here")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    data = tempfile.mkdtemp(prefix="storyboard-eval-")
    out = args.out or os.path.join(data, "out")
    os.makedirs(out, exist_ok=True)
    port = free_port()
    env = dict(os.environ, APP_DATA_DIR=data, APP_LISTEN=f"127.0.0.1:{port}", APP_LOG="warn",
               APP_MAX_QUEUED_JOBS_PER_USER="20")
    mint = subprocess.run([args.backend, "invites", "mint", "--count", "1"], env=env, check=True,
                          capture_output=True, text=True)
    code = mint.stdout.split()[0]
    server = subprocess.Popen([args.backend, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        token = gql(url, "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
                    {"i": {"inviteCode": code, "email": "eval@example.com", "username": "evaluator",
                           "password": "correct horse battery staple"}})["signUp"]["accessToken"]
        items = []
        for k in range(args.n):
            colour = COLOURS[k % len(COLOURS)]
            settings = rng.sample(list(SETTINGS), 3)
            shots = [{"prompt": f"the ball rolls {SETTINGS[s]}", "durationSeconds": SHOT_SECONDS} for s in settings]
            job = gql(url, "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }",
                      {"i": {"prompt": f"a small {colour} ball", "aspectRatio": "SQUARE", "audio": "SILENT",
                             "seed": rng.randrange(1 << 30), "shots": shots}}, token)["createVideo"]["id"]
            items.append({"job": job, "colour": colour, "settings": settings})
        rows = []
        for item in items:
            while True:
                j = gql(url, "query($id: ID!) { job(id: $id) { status error { message } video { url } } }",
                        {"id": item["job"]}, token)["job"]
                if j["status"] in ("SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"):
                    break
                time.sleep(0.2)
            if j["status"] != "SUCCEEDED":
                raise RuntimeError(f"{item}: {j}")
            path = os.path.join(out, item["job"] + ".mp4")
            with urllib.request.urlopen(j["video"]["url"], timeout=60) as r, open(path, "wb") as f:
                f.write(r.read())
            frames = evaluate.read_video(path)
            per = len(frames) // 3
            seen = [evaluate.analyse(frames[i * per:(i + 1) * per]) for i in range(3)]
            row = dict(item, colours=[s["colour"] for s in seen], settings_seen=[s["setting"] for s in seen])
            rows.append(row)
            print(f"{item['colour']:>7}: " + ", ".join(
                f"{want}→{s['setting']}/{s['colour']}" for want, s in zip(item["settings"], seen)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    shots = sum(len(r["colours"]) for r in rows)
    right = sum(c == r["colour"] for r in rows for c in r["colours"])
    agree = sum(len(set(r["colours"])) == 1 for r in rows)
    setting = sum(w == s for r in rows for w, s in zip(r["settings"], r["settings_seen"]))
    summary = {"storyboards": len(rows), "shots": shots, "colour_right": right / shots,
               "storyboards_consistent": agree / len(rows), "setting_right": setting / shots}
    print(json.dumps(summary, indent=1))
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump({"summary": summary, "rows": rows}, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
