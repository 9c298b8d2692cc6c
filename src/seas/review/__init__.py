"""``seas review``: accept or reject generated pairs on a local web page; later stages use only the accepted."""
