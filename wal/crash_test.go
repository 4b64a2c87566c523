package wal_test

const crashChildEnv = "EDGEKIT_WAL_CRASH_CHILD"

func crashChild() int { return 0 }
