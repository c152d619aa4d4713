"""Running ``.tflite`` files with LiteRT (``ai_edge_litert``), and logits to probabilities.

No TensorFlow here: LiteRT is imported when a model is opened.
"""

import logging

import numpy as np
import scipy.special

from data_utils.quiet import native_stderr_filtered

log = logging.getLogger(__name__)


def probabilities(logits, multilabel):
    """Class probabilities (N, K) of logits (N, K): sigmoid (multi-label) or softmax, without overflow."""
    logits = np.asarray(logits, np.float64)
    return scipy.special.expit(logits) if multilabel else scipy.special.softmax(logits, axis=1)


class TFLiteModel:
    """Run a ``.tflite`` model with ``ai_edge_litert`` on one thread, one window at a time.

    Call it on signals (N, window, leads) [and demographics (N, 5)]; returns float32 logits (N, K).
    ``path`` is a file, or the flatbuffer's bytes. LiteRT's default XNNPACK delegate refuses some
    of our int8 graphs while preparing them (a known class of XNNPACK bugs); the builtin kernels
    are then used and ``delegate`` says so.
    """

    def __init__(self, path, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        source = {"model_content": bytes(path)} if isinstance(path, (bytes, bytearray)) else {"model_path": path}
        self.path, self.delegate = source.get("model_path", "<flatbuffer>"), "xnnpack"
        try:
            with native_stderr_filtered():  # LiteRT announces its XNNPACK delegate on stderr once per process
                self.interpreter = Interpreter(**source, num_threads=num_threads)
                self.interpreter.allocate_tensors()
        except RuntimeError as error:
            log.warning(
                "%s: XNNPACK could not prepare the graph (%s); using the builtin kernels",
                self.path,
                str(error).splitlines()[0],
            )
            self.delegate = "builtin"
            self.interpreter = Interpreter(
                **source,
                num_threads=num_threads,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
            self.interpreter.allocate_tensors()
        details = sorted(self.interpreter.get_input_details(), key=lambda d: len(d["shape"]), reverse=True)
        self.inputs, self.output = details, self.interpreter.get_output_details()[0]

    def __call__(self, signal, demographics=None):
        arrays = [np.asarray(signal, np.float32)] + (
            [np.asarray(demographics, np.float32)] if demographics is not None else []
        )
        if len(arrays) != len(self.inputs):
            raise ValueError(f"{self.path} takes {len(self.inputs)} input(s), got {len(arrays)}")
        outputs = []
        for row in range(len(arrays[0])):
            for detail, array in zip(self.inputs, arrays):
                self.interpreter.set_tensor(
                    detail["index"], quantize(array[row : row + 1].reshape(detail["shape"]), detail)
                )
            self.interpreter.invoke()
            outputs.append(dequantize(self.interpreter.get_tensor(self.output["index"]), self.output))
        return np.concatenate(outputs).astype(np.float32)


def quantize(array, detail):
    """Float array -> the tensor's dtype, through its scale and zero point when it is integer."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        return np.clip(np.round(array / scale + zero), info.min, info.max).astype(detail["dtype"])
    return array.astype(detail["dtype"])


def dequantize(array, detail):
    """The tensor's values as float32."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        return (array.astype(np.float32) - zero) * scale
    return array.astype(np.float32)
