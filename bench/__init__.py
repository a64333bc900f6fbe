"""Performance benchmarks of qa (and txtai side by side): `python -m bench.run --out docs/BENCHMARKS.md`."""
