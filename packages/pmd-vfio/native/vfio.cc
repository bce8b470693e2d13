// @mp/pmd-vfio native binding, vfio part: the ioctls of the kernel's VFIO interface
// (Documentation/driver-api/vfio.rst), one thin function each. All policy (which group, which IOVA,
// what a status means) lives in src/vfio/*.ts; every syscall result here is checked and a failure is
// thrown with `.code` = the errno name and `.syscall` = the ioctl's name.
//
//   vfioOpen(path)                          open(O_RDWR | O_CLOEXEC) of /dev/vfio/vfio or /dev/vfio/<group>
//   vfioIoctlInt(fd, op, arg)               the ioctls whose argument and result are ints:
//                                           GET_API_VERSION, CHECK_EXTENSION, SET_IOMMU, GROUP_UNSET_CONTAINER
//   vfioGroupStatus(fd)                     VFIO_GROUP_GET_STATUS → flags
//   vfioGroupSetContainer(group, container) VFIO_GROUP_SET_CONTAINER
//   vfioGroupDevice(group, "0000:00:04.0")  VFIO_GROUP_GET_DEVICE_FD → fd
//   vfioDeviceInfo(fd)                      VFIO_DEVICE_GET_INFO → [flags, num_regions, num_irqs]
//   vfioRegionInfo(fd, index)               VFIO_DEVICE_GET_REGION_INFO → the raw struct (decoded in TS)
//   vfioIrqInfo(fd, index)                  VFIO_DEVICE_GET_IRQ_INFO → [flags, count]
//   vfioSetIrqs(fd, index, start, efds)     VFIO_DEVICE_SET_IRQS, eventfd trigger (efds empty: disable)
//   vfioPread / vfioPwrite                  the config (and any non-mmap) region, through the device fd
//   vfioMmap(fd, offset, size)              a BAR as an external ArrayBuffer (MAP_SHARED), unmapped at GC
//   vfioDmaMap(container, ab, iova)         VFIO_IOMMU_MAP_DMA of an ArrayBuffer's pages (read + write)
//   vfioDmaUnmap(container, iova, size)     VFIO_IOMMU_UNMAP_DMA

#include "memif_abi.h"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using mp_memif::ErrnoError;


Napi::Value VfioOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  MP_ARG(String, path, 0);
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// op: 0 GET_API_VERSION, 1 CHECK_EXTENSION, 2 SET_IOMMU, 3 GROUP_UNSET_CONTAINER.
Napi::Value VfioIoctlInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  int32_t op = 0, arg = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Int32, op, 1);
  if (info.Length() > 2 && !info[2].IsUndefined()) MP_ARG(Int32, arg, 2);
  static const unsigned long kReq[] = {VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU,
                                       VFIO_GROUP_UNSET_CONTAINER};
  static const char* const kName[] = {"VFIO_GET_API_VERSION", "VFIO_CHECK_EXTENSION", "VFIO_SET_IOMMU",
                                      "VFIO_GROUP_UNSET_CONTAINER"};
  if (op < 0 || op > 3) return mp::ArgFail(info, 1, "op", "0..3", true), env.Undefined();
  int r = ioctl(fd, kReq[op], static_cast<unsigned long>(arg));
  if (r < 0) {
    ErrnoError(env, errno, kName[op]).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, r);
}

Napi::Value VfioGroupStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  vfio_group_status st;
  memset(&st, 0, sizeof(st));
  st.argsz = sizeof(st);
  if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
    ErrnoError(env, errno, "VFIO_GROUP_GET_STATUS").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, st.flags);
}

Napi::Value VfioGroupSetContainer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int group = -1, container = -1;
  MP_ARG(Fd, group, 0);
  MP_ARG(Fd, container, 1);
  if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
    ErrnoError(env, errno, "VFIO_GROUP_SET_CONTAINER").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value VfioGroupDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int group = -1;
  std::string addr;
  MP_ARG(Fd, group, 0);
  MP_ARG(String, addr, 1);
  int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, addr.c_str());
  if (fd < 0) {
    ErrnoError(env, errno, "VFIO_GROUP_GET_DEVICE_FD", addr).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value VfioDeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  MP_ARG(Fd, fd, 0);
  vfio_device_info di;
  memset(&di, 0, sizeof(di));
  di.argsz = sizeof(di);
  if (ioctl(fd, VFIO_DEVICE_GET_INFO, &di) < 0) {
    ErrnoError(env, errno, "VFIO_DEVICE_GET_INFO").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array a = Napi::Array::New(env, 3);
  a.Set(0u, Napi::Number::New(env, di.flags));
  a.Set(1u, Napi::Number::New(env, di.num_regions));
  a.Set(2u, Napi::Number::New(env, di.num_irqs));
  return a;
}

// The raw struct vfio_region_info (no capability chain: argsz = sizeof), decoded by src/vfio/regions.ts.
Napi::Value VfioRegionInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint32_t index = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint32, index, 1);
  vfio_region_info ri;
  memset(&ri, 0, sizeof(ri));
  ri.argsz = sizeof(ri);
  ri.index = index;
  if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0) {
    ErrnoError(env, errno, "VFIO_DEVICE_GET_REGION_INFO").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&ri), sizeof(ri));
  return out;
}

Napi::Value VfioIrqInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint32_t index = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint32, index, 1);
  vfio_irq_info ii;
  memset(&ii, 0, sizeof(ii));
  ii.argsz = sizeof(ii);
  ii.index = index;
  if (ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0) {
    ErrnoError(env, errno, "VFIO_DEVICE_GET_IRQ_INFO").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, ii.flags));
  a.Set(1u, Napi::Number::New(env, ii.count));
  return a;
}

// vfioSetIrqs(fd, index, start, Int32Array efds): eventfds as triggers of vectors start..; an empty
// array disables every vector of the index (DATA_NONE | ACTION_TRIGGER, count 0).
Napi::Value VfioSetIrqs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint32_t index = 0, start = 0;
  Napi::Int32Array efds;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint32, index, 1);
  MP_ARG(Uint32, start, 2);
  MP_ARG(Int32Array, efds, 3);
  size_t n = efds.ElementLength();
  std::vector<uint8_t> buf(sizeof(vfio_irq_set) + n * sizeof(int32_t));
  auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
  set->argsz = static_cast<uint32_t>(buf.size());
  set->flags = VFIO_IRQ_SET_ACTION_TRIGGER | (n > 0 ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
  set->index = index;
  set->start = start;
  set->count = static_cast<uint32_t>(n);
  if (n > 0) memcpy(set->data, efds.Data(), n * sizeof(int32_t));
  if (ioctl(fd, VFIO_DEVICE_SET_IRQS, set) < 0) {
    ErrnoError(env, errno, "VFIO_DEVICE_SET_IRQS").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// vfioPread(fd, offset, Uint8Array dst) → bytes read (a short read is the caller's error to raise).
Napi::Value VfioPread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint64_t offset = 0;
  Napi::Uint8Array dst;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint64, offset, 1);
  MP_ARG(Bytes, dst, 2);
  ssize_t r = pread(fd, dst.Data(), dst.ByteLength(), static_cast<off_t>(offset));
  if (r < 0) {
    ErrnoError(env, errno, "pread").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

Napi::Value VfioPwrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint64_t offset = 0;
  Napi::Uint8Array src;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint64, offset, 1);
  MP_ARG(Bytes, src, 2);
  ssize_t r = pwrite(fd, src.Data(), src.ByteLength(), static_cast<off_t>(offset));
  if (r < 0) {
    ErrnoError(env, errno, "pwrite").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

Napi::Value VfioMmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  uint64_t offset = 0, size = 0;
  MP_ARG(Fd, fd, 0);
  MP_ARG(Uint64, offset, 1);
  MP_ARG(Uint64, size, 2);
  if (size == 0) return mp::ArgFail(info, 2, "size", "> 0", true), env.Undefined();
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    ErrnoError(env, errno, "mmap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::ArrayBuffer::New(
      env, p, size,
      [](Napi::Env, void* data, size_t* len) {
        // At finalization there is no one to report to: a failed munmap leaves the range mapped (a
        // leak, never a fault).
        if (munmap(data, *len) != 0) {
        }
        delete len;
      },
      new size_t(size));
}

Napi::Value VfioDmaMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int container = -1;
  Napi::ArrayBuffer ab;
  uint64_t iova = 0;
  MP_ARG(Fd, container, 0);
  MP_ARG(ArrayBuffer, ab, 1);
  MP_ARG(Uint64, iova, 2);
  vfio_iommu_type1_dma_map m;
  memset(&m, 0, sizeof(m));
  m.argsz = sizeof(m);
  m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  m.vaddr = reinterpret_cast<uint64_t>(ab.Data());
  m.iova = iova;
  m.size = ab.ByteLength();
  if (ioctl(container, VFIO_IOMMU_MAP_DMA, &m) < 0) {
    ErrnoError(env, errno, "VFIO_IOMMU_MAP_DMA").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value VfioDmaUnmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int container = -1;
  uint64_t iova = 0, size = 0;
  MP_ARG(Fd, container, 0);
  MP_ARG(Uint64, iova, 1);
  MP_ARG(Uint64, size, 2);
  vfio_iommu_type1_dma_unmap u;
  memset(&u, 0, sizeof(u));
  u.argsz = sizeof(u);
  u.iova = iova;
  u.size = size;
  if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) < 0) {
    ErrnoError(env, errno, "VFIO_IOMMU_UNMAP_DMA").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

}  // namespace

namespace mp_vfio {

// Called from Init in memif.cc: the vfio functions and the sizes src/vfio/regions.ts checks.
void InitVfio(Napi::Env env, Napi::Object exports) {
  exports.Set("vfioOpen", Napi::Function::New(env, VfioOpen));
  exports.Set("vfioIoctlInt", Napi::Function::New(env, VfioIoctlInt));
  exports.Set("vfioGroupStatus", Napi::Function::New(env, VfioGroupStatus));
  exports.Set("vfioGroupSetContainer", Napi::Function::New(env, VfioGroupSetContainer));
  exports.Set("vfioGroupDevice", Napi::Function::New(env, VfioGroupDevice));
  exports.Set("vfioDeviceInfo", Napi::Function::New(env, VfioDeviceInfo));
  exports.Set("vfioRegionInfo", Napi::Function::New(env, VfioRegionInfo));
  exports.Set("vfioIrqInfo", Napi::Function::New(env, VfioIrqInfo));
  exports.Set("vfioSetIrqs", Napi::Function::New(env, VfioSetIrqs));
  exports.Set("vfioPread", Napi::Function::New(env, VfioPread));
  exports.Set("vfioPwrite", Napi::Function::New(env, VfioPwrite));
  exports.Set("vfioMmap", Napi::Function::New(env, VfioMmap));
  exports.Set("vfioDmaMap", Napi::Function::New(env, VfioDmaMap));
  exports.Set("vfioDmaUnmap", Napi::Function::New(env, VfioDmaUnmap));
  Napi::Object l = Napi::Object::New(env);
  l.Set("regionInfoSize", Napi::Number::New(env, sizeof(vfio_region_info)));
  l.Set("regionFlags", Napi::Number::New(env, offsetof(vfio_region_info, flags)));
  l.Set("regionIndex", Napi::Number::New(env, offsetof(vfio_region_info, index)));
  l.Set("regionSize", Napi::Number::New(env, offsetof(vfio_region_info, size)));
  l.Set("regionOffset", Napi::Number::New(env, offsetof(vfio_region_info, offset)));
  l.Set("apiVersion", Napi::Number::New(env, VFIO_API_VERSION));
  l.Set("type1Iommu", Napi::Number::New(env, VFIO_TYPE1v2_IOMMU));
  l.Set("groupViable", Napi::Number::New(env, VFIO_GROUP_FLAGS_VIABLE));
  l.Set("groupContainerSet", Napi::Number::New(env, VFIO_GROUP_FLAGS_CONTAINER_SET));
  l.Set("pciConfigRegion", Napi::Number::New(env, VFIO_PCI_CONFIG_REGION_INDEX));
  l.Set("pciMsixIrq", Napi::Number::New(env, VFIO_PCI_MSIX_IRQ_INDEX));
  exports.Set("vfioLayout", l);
}

}  // namespace mp_vfio
