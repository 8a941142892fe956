"""The figures a user of the face checker gets: score a saved detector on a dataset's test split with `evaluate` (the
card's framing) and with the `facefake-predict` command on the same files, and compare p_fake per file and the metrics.

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch \
      .venv/bin/python bench/user_path_bench.py runs/framing-probe384/probe-face --json-out runs/user-path-probe.json

--framing scores through another recipe than the card's (to measure a framing shift; the command is then not run).
"""
import argparse, datetime as dt, json, os, platform, subprocess, sys, tempfile, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
import numpy as np, pandas as pd
from facefake.splits import load_dataset
from facefake.detector import load_detector
from facefake.metrics import binary_metrics
from facefake.evaluate import evaluate

KEYS = ['accuracy', 'roc_auc', 'average_precision', 'tpr_at_1pct_fpr', 'tpr_at_5pct_fpr', 'threshold']

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('model', help='a saved detector folder')
    ap.add_argument('--dataset', default='faces140k-sample')
    ap.add_argument('--framing', default=None, help="score with this recipe instead of the card's ('whole' or 'face')")
    ap.add_argument('--json-out', help='write the figures here (a new file)')
    a = ap.parse_args()
    if a.json_out and Path(a.json_out).exists(): ap.error(f'{a.json_out} exists; give a new file')
    det, df = load_detector(a.model), load_dataset(a.dataset)
    start = time.time()
    ev = evaluate(det, df, framing=a.framing)
    res = dict(bench='user_path', date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(),
               cpus=os.cpu_count(), command=' '.join([Path(sys.executable).name] + sys.argv), model=det.name,
               card_framing=det.framing, scored_with=ev.framing, dataset=a.dataset, split='test', n=len(ev.df),
               faces_found=int(ev.df.face.sum()), evaluate={k: ev.metrics[k] for k in KEYS},
               evaluate_seconds=round(time.time() - start, 1))
    if a.framing is None:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)/'predict.csv'
            r = subprocess.run([str(Path(sys.executable).parent/'facefake-predict'), a.model, *map(str, ev.df.path), '--whole',
                                '--csv-out', str(out)], capture_output=True, text=True)
            if r.returncode: sys.exit(f'facefake-predict failed: {r.stderr[-2000:]}')
            pr = pd.read_csv(out)
        y = (ev.df.label == 'fake').to_numpy()
        m = binary_metrics(y, pr.p_fake.to_numpy(), det.threshold)
        res.update(predict={k: m[k] for k in KEYS}, max_abs_p_fake_difference=float(np.abs(pr.p_fake.to_numpy() - ev.df.p_fake.to_numpy()).max()))
    print(json.dumps(res, indent=2))
    if a.json_out: Path(a.json_out).write_text(json.dumps(res, indent=2))

if __name__ == '__main__': main()
