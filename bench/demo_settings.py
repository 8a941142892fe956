"""Compare training settings for the demo detector on the VALIDATION split of a dataset (the test split is not used).

    FACEFAKE_DATA=../shared/datasets TORCH_HOME=../shared/torch .venv/bin/python bench/demo_settings.py [--dataset NAME]

Prints one row per setting: validation accuracy at the Youden threshold, AUC, and training seconds.
"""
import argparse, time, warnings
warnings.filterwarnings('ignore')
import pandas as pd
from facefake.splits import load_dataset
from facefake.train import train_detector
from facefake.metrics import split_metrics

SETTINGS = {
    'resize128':         dict(size=128, epochs=3),
    'native256-crop128': dict(size=256, crop=128, epochs=3),
    'native256-crop128-5ep': dict(size=256, crop=128, epochs=5),
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dataset', default='faces140k-sample')
    ap.add_argument('--only', nargs='*', default=list(SETTINGS))
    args = ap.parse_args()
    df = load_dataset(args.dataset)
    rows = []
    for name in args.only:
        t = time.time()
        det, _ = train_detector(df, **SETTINGS[name])
        secs = time.time() - t
        m = split_metrics(det, df, 'valid')
        rows.append(dict(setting=name, valid_accuracy=round(m['accuracy'], 4), valid_auc=round(m['roc_auc'], 4),
                         valid_tpr_at_5pct_fpr=round(m['tpr_at_5pct_fpr'], 4), train_seconds=round(secs)))
        print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_string(index=False))

if __name__ == '__main__': main()
