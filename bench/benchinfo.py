"What every bench/ result records beside its figures: when, on what hardware, and the command that produced it."
import datetime as dt, os, platform, sys
from pathlib import Path

def cpu_model() -> str:
    "The CPU's model name (Linux), else the machine type."
    try: return next(l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()

def run_info() -> dict:
    "Date, hardware (CPU model, core count, torch threads, GPU if any) and the command line of this run."
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return dict(date=dt.datetime.now().isoformat(timespec='seconds'), machine=platform.machine(), cpu=cpu_model(),
                cpus=os.cpu_count(), torch_threads=torch.get_num_threads(), gpu=gpu,
                command='python ' + ' '.join([str(Path(sys.argv[0]).as_posix())] + sys.argv[1:]))
