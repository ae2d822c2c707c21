"""Torch building blocks of neural genomes (each module imports only torch and the standard
library, so an exported network can embed it verbatim)."""
