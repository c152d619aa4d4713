"""Train, distil, compress and export ECG students from the command line (``python train.py --help``).

With no flags it runs every stage on 2,000 synthetic 12-lead records (no download), in the setting
where distillation pays: a 12-lead teacher on every training label, lead-I LRH-Net students with
labels on 10 % of the training records (alone, and distilled on every record, with logit and with
multi-level distillation), pruned and int8; it prints the test results and where the report is.
"""

import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def main(argv=None):
    from data_utils.quiet import import_tensorflow
    from kdpipeline.options import parse_args

    args = parse_args(argv)
    import_tensorflow(args.verbose)  # before anything else imports TensorFlow
    from kdpipeline.runner import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
