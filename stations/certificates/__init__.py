"""Certificates: the CA ChargeNet runs, certificates issued to stations, certificate commands."""
