"""Trains a method from a YAML config, resuming from the work dir's last checkpoint.

Writes WORKDIR/config.yaml (resolved), checkpoints/, logs/ (TensorBoard), saved_model/ and,
when the config has an eval section, results.json. WORKDIR must be new, empty or a tfreid work
dir, and no other run may be using it. Exit status: 0 success, 2 bad arguments or config, 1
other failures, 143 when stopped by SIGTERM (after saving a checkpoint at the step reached: the
same command resumes from it).
"""

from tfreid import cli


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument("--workdir", help="run directory (default: runtime.workdir)")
    cli.set_overrides(parser)
    args = parser.parse_args()

    def run():
        cfg = cli.load_config(args.config, args.overrides)  # fails before any data or model
        from tfreid.training.run import run_training

        run_training(cfg, args.workdir or cfg.runtime.workdir)

    cli.run(run)


if __name__ == "__main__":
    main()
