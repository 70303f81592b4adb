"""PostgreSQL change data capture: replication slots, the test_decoding format, and applying changes to a table."""
