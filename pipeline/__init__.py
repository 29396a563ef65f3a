"""The frame's path, one way: a camera's frame (`ingest`) goes to the detector (`models`), is
measured and analysed (`measure`, over `analytics`), and becomes rows (`rows`) that a sink stores.
`loop` runs that for many cameras at their analysis rates; the sink is given to it (storage's
writer in the service, a counter in the benchmark), so nothing here imports storage."""
