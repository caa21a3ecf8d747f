#include "avatar_bridge/skeleton.hpp"

#include <cmath>

namespace avatar_bridge {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDegPerRad = 180.0 / kPi;

// Indices into the joint array (kJointNames order).
enum Joint : std::size_t {
    kJawOpen = 0, kHeadYaw, kHeadPitch, kHeadRoll, kEyeLeftYaw, kEyeLeftPitch, kEyeRightYaw,
    kEyeRightPitch, kTongueTipUp, kTongueBodyUp, kTongueFront,
};

BoneTransform rotation(double pitch_deg, double yaw_deg, double roll_deg) {
    BoneTransform bone;
    bone.pitch_deg = pitch_deg;
    bone.yaw_deg = yaw_deg;
    bone.roll_deg = roll_deg;
    bone.rotation = rotator_to_quat(pitch_deg, yaw_deg, roll_deg);
    return bone;
}

}  // namespace

const std::array<std::string_view, kBoneCount> kBoneNames = {
    "root", "head", "jaw", "eye_l", "eye_r", "tongue_base", "tongue_tip",
};
const std::array<int, kBoneCount> kBoneParents = {-1, 0, 1, 1, 1, 2, 5};

Quat rotator_to_quat(double pitch_deg, double yaw_deg, double roll_deg) {
    const double half = kPi / 180.0 / 2.0;
    const double sp = std::sin(std::fmod(pitch_deg, 360.0) * half);
    const double cp = std::cos(std::fmod(pitch_deg, 360.0) * half);
    const double sy = std::sin(std::fmod(yaw_deg, 360.0) * half);
    const double cy = std::cos(std::fmod(yaw_deg, 360.0) * half);
    const double sr = std::sin(std::fmod(roll_deg, 360.0) * half);
    const double cr = std::cos(std::fmod(roll_deg, 360.0) * half);
    Quat q;
    q.x = cr * sp * sy - sr * cp * cy;
    q.y = -cr * sp * cy - sr * cp * sy;
    q.z = cr * cp * sy - sr * sp * cy;
    q.w = cr * cp * cy + sr * sp * sy;
    return q;
}

std::array<BoneTransform, kBoneCount> bones_from_joints(const std::array<float, 12>& joints) {
    const auto deg = [&joints](Joint j) { return static_cast<double>(joints[j]) * kDegPerRad; };
    const auto unit = [&joints](Joint j) { return static_cast<double>(joints[j]); };
    std::array<BoneTransform, kBoneCount> bones{};
    // Schema angles are the subject's own (yaw/roll + = to their left); Unreal's yaw/roll + = right.
    bones[kBoneHead] = rotation(deg(kHeadPitch), -deg(kHeadYaw), -deg(kHeadRoll));
    bones[kBoneJaw] = rotation(-deg(kJawOpen), 0.0, 0.0);  // opening swings the chin down
    bones[kBoneEyeLeft] = rotation(deg(kEyeLeftPitch), -deg(kEyeLeftYaw), 0.0);
    bones[kBoneEyeRight] = rotation(deg(kEyeRightPitch), -deg(kEyeRightYaw), 0.0);
    bones[kBoneTongueBase] = rotation(unit(kTongueBodyUp) * kTongueBodyMaxDeg, 0.0, 0.0);
    bones[kBoneTongueBase].translation_cm[0] = unit(kTongueFront) * kTongueFrontMaxCm;
    bones[kBoneTongueTip] = rotation(unit(kTongueTipUp) * kTongueTipMaxDeg, 0.0, 0.0);
    return bones;
}

}  // namespace avatar_bridge
