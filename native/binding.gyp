{
  # The same build as native/build.mjs, for node-gyp users:
  #   npx node-gyp rebuild --directory native --nodedir=/usr
  # (node-gyp would otherwise try to download Node headers; build.mjs needs no node-gyp at all).
  "targets": [
    {
      "target_name": "gle_native",
      "sources": ["gle_native.c"],
      "cflags": ["-O3", "-fno-math-errno", "-std=c11", "-march=native"],
      "cflags!": ["-O2"],
      "libraries": ["-lopenblas", "-lm"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
