{
  "targets": [
    {
      "target_name": "sha1_lanes",
      "sources": ["native/sha1-lanes.c"],
      "cflags": ["-O3"]
    }
  ]
}
