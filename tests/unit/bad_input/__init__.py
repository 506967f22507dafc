"""Bad-input corpus: files generated in each test, refused by the real CLI with nothing written."""
