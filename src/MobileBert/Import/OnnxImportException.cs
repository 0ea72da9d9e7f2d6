namespace MobileBert.Import;

/// <summary>An ONNX file cannot be read or mapped onto a BERT model folder. The message names the file and the node or tensor.</summary>
public sealed class OnnxImportException(string message) : MobileBertException(message);
