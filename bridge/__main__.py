"""`python -m bridge` runs the command line."""

from bridge.launch import main

main()
