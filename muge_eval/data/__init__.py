"""Loading task data through `datasets`: lazy image decoding and its on-disk cache."""
