// The CUDA driver types the shim uses, declared here so that no CUDA header is needed. The
// struct tags are cuda.h's, so functions declared with them match the driver's ABI.
#pragma once
#include <cstdint>

// cuda.h's opaque handles, declared at global scope like there.
struct CUctx_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUmemPoolHandle_st;

namespace mpshim::cuda {

/// A CUresult.
using Result = int;
constexpr Result kSuccess = 0;
constexpr Result kErrorInvalidValue = 1;
constexpr Result kErrorOutOfMemory = 2;
constexpr Result kErrorNotInitialized = 3;
constexpr Result kErrorDeinitialized = 4;
constexpr Result kErrorInvalidContext = 201;
constexpr Result kErrorNotFound = 500;
constexpr Result kErrorNotReady = 600;
constexpr Result kErrorNotSupported = 801;
constexpr Result kErrorStreamCaptureUnsupported = 900;
constexpr Result kErrorStreamCaptureInvalidated = 901;

using DevPtr = uint64_t;  ///< CUdeviceptr
using Device = int;       ///< CUdevice
using Context = ::CUctx_st*;    ///< CUcontext
using Stream = ::CUstream_st*;  ///< CUstream
using Event = ::CUevent_st*;    ///< CUevent
using Graph = ::CUgraph_st*;    ///< CUgraph
using MemPool = ::CUmemPoolHandle_st*;  ///< CUmemoryPool

}  // namespace mpshim::cuda
