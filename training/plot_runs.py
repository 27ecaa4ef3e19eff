"""Valid perplexity against training tokens, one line per run, as a PNG.

    /usr/bin/python3 training/plot_runs.py --out training/plots/gpu-2026-12-04.png \
        --ref 118.2 "1.1.0 (35M tokens)" --target 100.5 "target -15%" \
        training/checkpoints/gpu-2026-12-04/{awd2x512,awd2x512s,awd2x384,awd2x512d2}/log.jsonl

Each argument is a run's log.jsonl (train.py: one line per evaluation with
`tokens` and `valid_ppl`); the run's name is its folder's. The y axis is
logarithmic. Drawn with Pillow (python3-pil) and the DejaVu fonts, since
neither matplotlib nor gnuplot is installed here; a run whose valid split is
not data's (`--data` ending in data2) is drawn dashed and labelled so.
"""
import argparse
import json
import math
import os

from PIL import Image, ImageDraw, ImageFont

W, H = 1100, 700
LEFT, RIGHT, TOP, BOTTOM = 90, 300, 50, 70
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75)]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def font(size):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default()


def read(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    points = [(r["tokens"], r["valid_ppl"]) for r in rows if "valid_ppl" in r and "tokens" in r]
    args = next((r["result"].get("args", {}) for r in rows if "result" in r), {})
    data2 = os.path.basename(os.path.normpath(args.get("data", ""))) == "data2"
    return sorted(points), data2, any("reconstructed" in r for r in rows)


def dashed(draw, a, b, fill, width, on=10, off=6):
    (x0, y0), (x1, y1) = a, b
    length = math.hypot(x1 - x0, y1 - y0)
    pos = 0.0
    while pos < length:
        end = min(pos + on, length)
        draw.line([(x0 + (x1 - x0) * pos / length, y0 + (y1 - y0) * pos / length),
                   (x0 + (x1 - x0) * end / length, y0 + (y1 - y0) * end / length)], fill=fill, width=width)
        pos = end + off


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="Valid perplexity against training tokens")
    ap.add_argument("--ref", nargs=2, action="append", default=[], metavar=("PPL", "LABEL"),
                    help="a horizontal reference line (repeatable)")
    ap.add_argument("--target", nargs=2, action="append", default=[], metavar=("PPL", "LABEL"))
    ap.add_argument("--curve", nargs=2, action="append", default=[], metavar=("LABEL", "MTOKENS:PPL,..."),
                    help="an earlier run given by its figures (e.g. from RESULTS.md), drawn thin and grey")
    args = ap.parse_args()

    runs = [(os.path.basename(os.path.dirname(os.path.abspath(p))), *read(p)) for p in args.logs]
    curves = [(label, [(float(t) * 1e6, float(v)) for t, v in (kv.split(":") for kv in spec.split(","))])
              for label, spec in args.curve]
    refs = [(float(v), label, (90, 90, 90)) for v, label in args.ref] + \
           [(float(v), label, (200, 0, 0)) for v, label in args.target]
    xs = [t for _, pts, _, _ in runs for t, _ in pts] + [t for _, pts in curves for t, _ in pts]
    ys = [p for _, pts, _, _ in runs for _, p in pts] + [v for v, _, _ in refs] + \
         [p for _, pts in curves for _, p in pts]
    x_max = math.ceil(max(xs) / 5e6) * 5e6
    y_lo, y_hi = min(ys) * 0.93, max(ys) * 1.05
    lo, hi = math.log(y_lo), math.log(y_hi)

    def px(t):
        return LEFT + (W - LEFT - RIGHT) * t / x_max

    def py(p):
        return TOP + (H - TOP - BOTTOM) * (hi - math.log(p)) / (hi - lo)

    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    small, normal, big = font(13), font(15), font(18)
    # grid and ticks
    for t in range(0, int(x_max) + 1, 5_000_000):
        d.line([(px(t), TOP), (px(t), H - BOTTOM)], fill=(230, 230, 230))
        label = f"{t / 1e6:g}M"
        d.text((px(t) - d.textlength(label, font=small) / 2, H - BOTTOM + 6), label, fill="black", font=small)
    ticks = [v for v in (80, 90, 100, 110, 120, 130, 140, 150, 175, 200, 250, 300, 400, 500) if y_lo <= v <= y_hi]
    for v in ticks:
        d.line([(LEFT, py(v)), (W - RIGHT, py(v))], fill=(230, 230, 230))
        label = str(v)
        d.text((LEFT - 8 - d.textlength(label, font=small), py(v) - 8), label, fill="black", font=small)
    d.rectangle([(LEFT, TOP), (W - RIGHT, H - BOTTOM)], outline="black")
    d.text((LEFT, 14), args.title, fill="black", font=big)
    xl = "training tokens"
    d.text(((LEFT + W - RIGHT) / 2 - d.textlength(xl, font=normal) / 2, H - 32), xl, fill="black", font=normal)
    yl = Image.new("RGBA", (260, 24), (255, 255, 255, 0))
    ImageDraw.Draw(yl).text((0, 0), "valid perplexity (log scale)", fill="black", font=normal)
    yl = yl.rotate(90, expand=True)
    img.paste(yl, (18, int((TOP + H - BOTTOM) / 2 - 130)), yl)

    legend_y = TOP
    for v, label, colour in refs:
        dashed(d, (LEFT, py(v)), (W - RIGHT, py(v)), colour, 2, 6, 6)
        d.text((W - RIGHT + 12, py(v) - 8), f"{label}: {v:g}", fill=colour, font=small)
    for j, (label, pts) in enumerate(curves):
        grey = (150, 150, 150)
        xy = [(px(t), py(p)) for t, p in pts]
        d.line(xy, fill=grey, width=1)
        for x, y in xy:
            d.ellipse([(x - 2, y - 2), (x + 2, y + 2)], fill=grey)
        d.line([(W - RIGHT + 12, legend_y + 200), (W - RIGHT + 40, legend_y + 200)], fill=grey, width=1)
        d.text((W - RIGHT + 46, legend_y + 192), label, fill=(90, 90, 90), font=small)
        legend_y += 22
    for i, (name, pts, data2, recon) in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        xy = [(px(t), py(p)) for t, p in pts]
        for a, b in zip(xy, xy[1:]):
            (dashed(d, a, b, colour, 3) if data2 else d.line([a, b], fill=colour, width=3))
        for x, y in xy:
            d.ellipse([(x - 3, y - 3), (x + 3, y + 3)], fill=colour)
        last = pts[-1][1]
        label = f"{name}: {last:.1f}" + (" (data2's valid)" if data2 else "") + (" *" if recon else "")
        d.line([(W - RIGHT + 12, legend_y + 200), (W - RIGHT + 40, legend_y + 200)], fill=colour, width=3)
        d.text((W - RIGHT + 46, legend_y + 192), label, fill="black", font=small)
        legend_y += 22
    if any(r[3] for r in runs):
        d.text((W - RIGHT + 12, legend_y + 206), "* from the console output", fill=(90, 90, 90), font=small)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    img.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
