package dev.tessera.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import google.rpc.ErrorDetails.ErrorInfo;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.function.Supplier;

/**
 * A failed call: its gRPC status code and the stable reason the server gives (MODEL_NOT_FOUND,
 * SESSION_BUSY, ...), read from the google.rpc.ErrorInfo detail every Tessera error carries.
 */
public final class TesseraException extends RuntimeException {
  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  private final Status.Code code;
  private final String reason;

  TesseraException(StatusRuntimeException cause) {
    super(cause.getMessage(), cause);
    code = cause.getStatus().getCode();
    reason = reasonOf(cause.getTrailers());
  }

  /** The call's gRPC status code, e.g. NOT_FOUND. */
  public Status.Code code() {
    return code;
  }

  /** The ErrorInfo reason, e.g. "MODEL_NOT_FOUND"; empty when the error carries none. */
  public String reason() {
    return reason;
  }

  /** Runs a blocking call, turning its StatusRuntimeException into a TesseraException. */
  static <T> T mapErrors(Supplier<T> call) {
    try {
      return call.get();
    } catch (StatusRuntimeException e) {
      throw new TesseraException(e);
    }
  }

  private static String reasonOf(Metadata trailers) {
    byte[] details = trailers == null ? null : trailers.get(STATUS_DETAILS);
    if (details == null) {
      return "";
    }
    try {
      for (Any detail : google.rpc.StatusOuterClass.Status.parseFrom(details).getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          return detail.unpack(ErrorInfo.class).getReason();
        }
      }
    } catch (InvalidProtocolBufferException e) {
      // A malformed detail loses only the reason; the status code still stands.
    }
    return "";
  }
}
