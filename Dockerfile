FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -o /concertd ./cmd/concertd

FROM gcr.io/distroless/static
COPY --from=build /concertd /concertd
ENTRYPOINT ["/concertd"]
