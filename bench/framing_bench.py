"""Framing: train a detector on the images as the dataset frames them ('whole') and on the face cut out of every image
('face', the crop every uploaded photo gets), and score each on the validation split both ways: with its own
framing, and through the face checker's crop. Choices are made on these validation figures only.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/framing_bench.py --method finetune --size 128 --epochs 3 --out runs/framing-ft128
    .venv/bin/python bench/framing_bench.py --method probe --size 384 --out runs/framing-probe384

Each detector is saved under --out (a new folder); the figures go to --out/framing.json with date, machine and command.
"""
import argparse, datetime as dt, json, os, platform, sys, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
from facefake.splits import load_dataset
from facefake.detector import save_detector
from facefake.train import train_detector
from facefake.probe import fit_probe
from facefake.evaluate import evaluate

KEYS = ['accuracy', 'roc_auc', 'average_precision', 'tpr_at_1pct_fpr', 'threshold']

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dataset', default='faces140k-sample')
    ap.add_argument('--method', choices=['finetune', 'probe'], default='finetune')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--epochs', type=int, default=3, help='full epochs after one frozen one (finetune only)')
    ap.add_argument('--framings', default='whole,face')
    ap.add_argument('--out', required=True, help='new folder for the detectors and framing.json')
    a = ap.parse_args()
    out = Path(a.out)
    if out.exists(): ap.error(f'{out} exists; give a new folder')
    df = load_dataset(a.dataset)
    rows = []
    for framing in a.framings.split(','):
        start = time.time()
        if a.method == 'probe': det, _ = fit_probe(df, size=a.size, framing=framing)
        else: det, _ = train_detector(df, size=a.size, epochs=a.epochs, framing=framing)
        secs = time.time() - start
        save_detector(det, out/f'{a.method}-{framing}')
        for scored in ('whole', 'face'):
            ev = evaluate(det, df, split='valid', framing=scored)
            row = dict(trained_on=framing, scored_with=scored, faces_found=int(ev.df.face.sum()), n=len(ev.df),
                       fit_seconds=round(secs, 1), **{k: ev.metrics[k] for k in KEYS})
            rows.append(row)
            print(json.dumps(row), flush=True)
    res = dict(bench='framing', date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(),
               cpus=os.cpu_count(), command=' '.join([Path(sys.executable).name] + sys.argv), dataset=a.dataset,
               split='valid', method=a.method, size=a.size, epochs=a.epochs if a.method == 'finetune' else None, rows=rows)
    (out/'framing.json').write_text(json.dumps(res, indent=2))

if __name__ == '__main__': main()
