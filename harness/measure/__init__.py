"""Measuring a model on prompts: evaluation, attention and neuron probes, pruning masks, classical
baselines. Knows nothing of training or claims."""
