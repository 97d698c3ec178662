"""`cl2cm pipeline CONFIG`: translate → extract-features → train-teacher → distill → eval in one command.

`config` reads and checks the TOML file, `plan` turns it into the stages' command lines, `run` runs or
resumes them; `template` writes the commented starting point (`cl2cm pipeline --init`).
"""
