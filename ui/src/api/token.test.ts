import { describe, expect, it } from "vitest";
import { splitToken } from "./token";

describe("splitToken", () => {
  it("takes the token out of the URL and keeps everything else", () => {
    expect(splitToken("http://127.0.0.1:4567/?token=abc#/logs")).toEqual({
      token: "abc",
      rest: "http://127.0.0.1:4567/#/logs",
    });
    expect(splitToken("http://127.0.0.1:4567/?a=1&token=abc&b=2")).toEqual({
      token: "abc",
      rest: "http://127.0.0.1:4567/?a=1&b=2",
    });
  });

  it("leaves a URL without a token as it is", () => {
    expect(splitToken("http://127.0.0.1:4567/#/connect")).toEqual({
      token: null,
      rest: "http://127.0.0.1:4567/#/connect",
    });
  });

  it("treats an empty token as none, but still cleans the URL", () => {
    expect(splitToken("http://localhost:1/?token=")).toEqual({ token: null, rest: "http://localhost:1/" });
  });
});
