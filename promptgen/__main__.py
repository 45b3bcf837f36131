"""`python -m promptgen` runs the same entry point as the `promptgen` console script."""
from promptgen.entry import main

if __name__ == "__main__":
    main()
