"""`python -m fake_x`: the emulator's command line (see `cli.fake_x_command`)."""

from fake_x.cli import fake_x_command

if __name__ == "__main__":
    fake_x_command(prog_name="python -m fake_x")
