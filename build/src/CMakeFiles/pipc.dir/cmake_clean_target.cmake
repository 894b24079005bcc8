file(REMOVE_RECURSE
  "libpipc.a"
)
