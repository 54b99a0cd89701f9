// The picture and the sound over WebRTC (a click: browsers play sound only after one). The show answers the
// offer at /offer; once the video plays it takes the MJPEG picture's place. Without a connection (no route,
// no aiortc on the show's side) the MJPEG picture stays and the button says why.
"use strict";

const listen = document.getElementById("listen");
const video = document.getElementById("video");
const picture = document.getElementById("picture");

function gathered(peer) {  // the show's answer is not trickled: offer every candidate at once
  return new Promise((resolve) => {
    if (peer.iceGatheringState === "complete") return resolve();
    peer.addEventListener("icegatheringstatechange", () => { if (peer.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

async function startWebRtc() {
  listen.disabled = true;
  listen.textContent = "connecting…";
  const peer = new RTCPeerConnection();
  const stream = new MediaStream();
  peer.addTransceiver("video", {direction: "recvonly"});
  peer.addTransceiver("audio", {direction: "recvonly"});
  peer.ontrack = (event) => { stream.addTrack(event.track); video.srcObject = stream; };
  peer.onconnectionstatechange = () => {
    if (peer.connectionState === "failed" || peer.connectionState === "closed") {
      video.hidden = true;
      picture.hidden = false;
      if (!picture.src.endsWith("/picture.mjpg")) picture.src = "/picture.mjpg";
      listen.textContent = "▶ sound";
      listen.disabled = false;
    }
  };
  await peer.setLocalDescription(await peer.createOffer());
  await gathered(peer);
  const response = await fetch("/offer", {method: "POST", headers: {"Content-Type": "application/json"},
                                          body: JSON.stringify(peer.localDescription)});
  if (!response.ok) {
    listen.textContent = (await response.json()).error || "no WebRTC";
    peer.close();
    return;
  }
  await peer.setRemoteDescription(await response.json());
  video.addEventListener("playing", () => {
    video.hidden = false;
    picture.hidden = true;
    picture.removeAttribute("src");  // the MJPEG stream ends: one picture stream at a time
    listen.textContent = "♪ live";
    document.body.dataset.webrtc = "playing";
  }, {once: true});
  await video.play();
}

listen.addEventListener("click", () => startWebRtc().catch((error) => {
  listen.textContent = `no WebRTC: ${error.message}`;
}));
