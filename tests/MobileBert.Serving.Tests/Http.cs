using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace MobileBert.Serving.Tests;

/// <summary>Small HTTP helpers of the tests.</summary>
public static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static StringContent Json(object body) => Json(JsonSerializer.Serialize(body));

    public static async Task<JsonObject> PostOk(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsync(path, Json(body));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Asserts an RFC 7807 problem with the status and the field it names; returns its detail.</summary>
    public static async Task<string> AssertProblem(HttpResponseMessage response, int status, string? field)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(status, (int)problem["status"]!);
        if (field is not null) Assert.Equal(field, (string?)problem["field"]);
        var detail = (string?)problem["detail"];
        Assert.False(string.IsNullOrWhiteSpace(detail), text);
        return detail!;
    }

    public static async Task<string> PostProblem(HttpClient client, string path, HttpContent content, int status, string? field)
    {
        using var response = await client.PostAsync(path, content);
        return await AssertProblem(response, status, field);
    }

    public static bool ApiKeyMatches(string header, string key) => MobileBert.Serving.Http.ApiKeyFilter.Matches(header, key);

    public static void Bearer(HttpRequestMessage request, string key) => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
}
