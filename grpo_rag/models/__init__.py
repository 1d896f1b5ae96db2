"""Getting pretrained models offline: a catalogue of known models and `grpo-rag model install`."""
