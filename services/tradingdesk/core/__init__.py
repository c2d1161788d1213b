"""The domain core: instruments, fixed-point numbers, orders, fills, clocks and ids. No I/O here."""
