{
  "targets": [
    {
      "target_name": "mp_pmd_vfio",
      "sources": ["native/memif.cc", "native/memif_queue.cc", "native/vfio.cc", "native/af_packet.cc", "native/tap.cc", "native/af_xdp.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O2"]
    }
  ]
}
