"""Reproduction bundle for 'AC-GAN Learns a Biased Distribution' (Shu, Bui & Ermon, 2017)."""
